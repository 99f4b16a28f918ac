import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
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
    throw unwritable(path, error);
  }
}

/** Why the journal cannot be written, as the line `start` prints. */
function unwritable(path: string, error: unknown): PresenceError {
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
  const message = `cannot write the journal ${path}: ${why}; give it a writable folder (journal.path, or ND_PRESENCE_DATA)`;
  return new PresenceError("journal.unwritable", message, { cause: error });
}

/**
 * Takes the journal for this process: `<journal>.lock` holds its pid. A second `nd-presence
 * start` on the same journal (the same config started twice, a unit and a container on one data
 * folder) would interleave its entries with the first's and save checkpoints over them, so it
 * refuses to start (exit 4) while that pid lives. A lock left by a process that died (a crash, a
 * power cut) or by this very pid (a container's PID 1 started again) is taken over. Released when
 * the process exits. Node has no flock; a lock file is what every runtime here can make.
 */
export function lockJournal(path: string): void {
  const lock = `${path}.lock`;
  const mine = String(process.pid);
  try {
    writeFileSync(lock, mine, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw unwritable(path, error);
    const holder = Number.parseInt(readFileSync(lock, "utf8"), 10);
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new PresenceError(
        "journal.locked",
        `the journal ${path} is in use by another nd-presence (pid ${holder}); stop it, or give this one its own journal.path or ND_PRESENCE_DATA`,
      );
    }
    writeFileSync(lock, mine, { mode: 0o600 });
  }
  process.once("exit", () => {
    try {
      if (readFileSync(lock, "utf8") === mine) unlinkSync(lock);
    } catch {
      // Gone already, or the folder with it: nothing to release.
    }
  });
}

/** Whether a process with this pid exists (EPERM: it does, and is someone else's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === "EPERM";
  }
}
