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
 * Takes the journal for this process: `<journal>.lock` says which process holds it. A second
 * `nd-presence start` on the same journal (the same config started twice, a unit and a container on
 * one data folder) would interleave its entries with the first's and save checkpoints over them,
 * so it refuses to start (exit 4) while the holder runs. A lock left behind (a crash, an OOM kill,
 * a power cut) is taken over: a pid alone is not enough to tell, as after a reboot another process
 * may have it, so on Linux the lock also holds the boot and the process's start time, and a pid
 * whose boot or start time differs is not the holder. Released when the process exits. Node has
 * no flock; a lock file is what every runtime here can make.
 */
export function lockJournal(path: string): void {
  const lock = `${path}.lock`;
  const mine = JSON.stringify({ pid: process.pid, process: processIdentity(process.pid) });
  try {
    writeFileSync(lock, mine, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw unwritable(path, error);
    const holder = lockHolder(readFileSync(lock, "utf8"));
    if (holder !== null && holds(holder)) {
      throw new PresenceError(
        "journal.locked",
        `the journal ${path} is in use by another nd-presence (pid ${holder.pid}); stop it, or give this one its own journal.path or ND_PRESENCE_DATA`,
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

interface LockHolder {
  pid: number;
  /** `processIdentity` of the holder when it took the lock; "" where there is no /proc. */
  process: string;
}

function lockHolder(text: string): LockHolder | null {
  try {
    const { pid, process: identity } = JSON.parse(text) as Partial<LockHolder>;
    return Number.isSafeInteger(pid) && pid! > 0 && typeof identity === "string" ? { pid: pid!, process: identity } : null;
  } catch {
    return null; // not a lock this version wrote: nobody holds it
  }
}

/** Whether the process that wrote the lock still runs (and is not this one: a container's PID 1 again). */
function holds(holder: LockHolder): boolean {
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: a process runs with that pid, someone else's; ESRCH: none does.
    if ((error as { code?: unknown }).code !== "EPERM") return false;
  }
  return holder.process === "" || processIdentity(holder.pid) === holder.process;
}

/**
 * Who a process is beyond its pid, which is reused: this boot's id and the process's start time
 * (field 22 of /proc/<pid>/stat, counted after the command name's closing parenthesis, as the name
 * may hold spaces). "" where /proc cannot tell (not Linux, or the process is hidden from us).
 */
function processIdentity(pid: number): string {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    return start ? `${boot}:${start}` : "";
  } catch {
    return "";
  }
}
