// Moved to lib/bundle/image_to_spec.ts; this re-export goes once the tests beside it move.
export * from "../bundle/image_to_spec.ts";
