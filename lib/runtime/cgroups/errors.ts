/**
 * The error raised by the cgroup manager.
 * @module
 */
import { OciboxError } from "../../errors.ts";

/** A cgroup operation failed; the message names the operation, the cgroup file or directory, and the cause. */
export class CgroupError extends OciboxError {
  constructor(message: string, options?: ErrorOptions) {
    super("CGROUP", message, options);
  }
}

/** One-line description of an unknown thrown value, for use after "because". */
export function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
}
