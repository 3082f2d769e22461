// Moved to lib/bundle/passwd.ts; this re-export goes once the tests beside it move.
export * from "../bundle/passwd.ts";
