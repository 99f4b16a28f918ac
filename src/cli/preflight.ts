import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { PresenceError } from "../errors.ts";

/**
 * Whether the journal can be written, before anything starts: a service that cannot keep its
 * journal loses everything at the next restart, so `start` refuses to begin that way (exit 4).
 * Once running, a disk that fails is reported by `/healthz` instead (the presences go on).
 */
export function checkJournalWritable(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, "a", 0o600));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? "permission denied (the service's user must be able to write its folder)"
      : code === "ENOTDIR" || code === "EEXIST"
      ? "a file stands where a folder should be"
      : code === "ENOSPC"
      ? "the disk is full"
      : typeof code === "string"
      ? code
      : "unknown error";
    throw new PresenceError("journal.unwritable", `cannot write the journal ${path}: ${why}; give it a writable folder (journal.path, or ND_PRESENCE_DATA)`, {
      cause: error,
    });
  }
}
