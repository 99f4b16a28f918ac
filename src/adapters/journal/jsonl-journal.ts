import { Buffer } from "node:buffer";
import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  fstatSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Checkpoint } from "../../service/checkpoint.ts";
import { errorText } from "../../errors.ts";
import type { CompactionOutcome, Journal, JournalEntry } from "./journal.ts";
import type { Logger } from "../logger.ts";
import { MAX_TIMER_DELAY_MS } from "../../clock.ts";

/**
 * When the journal file is fsynced.
 * - `always`: after every append. Nothing is lost even on power loss; slowest.
 * - `interval` (default): every `fsyncIntervalMs` (1 s) when something was written, on libuv's
 *   thread pool (a slow disk must not hold up every user's heartbeat), and at `close`. Every append
 *   is written to the OS at once, so a crash or SIGKILL of nd-presence loses nothing. A power loss
 *   loses what was written since the last fsync began: up to an interval, and more on a disk slower
 *   than that, as a tick that finds the previous fsync still running skips its turn.
 * - `never`: leave it to the OS.
 */
export type FsyncPolicy = "always" | "interval" | "never";

export interface JsonlJournalOptions {
  path: string;
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  logger: Logger;
}

/**
 * The journal as a JSONL file (default `data/journal.jsonl`), mode 0600: one entry per line,
 * appended with a synchronous write so that order holds and a crash loses nothing the OS has.
 */
export class JsonlJournal implements Journal {
  readonly #options: Required<Omit<JsonlJournalOptions, "logger">> & { logger: Logger };
  #fd: number | null = null;
  #bytes = 0;
  #dirty = false;
  #syncing = false;
  /** A failed write left part of a line at the end that could not be cut off. */
  #endsMidLine = false;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: JsonlJournalOptions) {
    this.#options = { fsync: "interval", fsyncIntervalMs: 1_000, ...options };
  }

  load(afterSeq = 0): JournalEntry[] {
    const { path, logger } = this.#options;
    const read = this.#read(afterSeq);
    // Never block start-up: a damaged line is reported and skipped (the next compaction drops it).
    for (const { index, error } of read.damaged) {
      const where = read.from > 0 ? { lineAfterCheckpoint: index } : { line: index };
      logger.log("error", "journal: skipped a damaged line", { path, ...where, error });
    }
    // A file that does not end in a newline was cut mid-write: its last line is torn.
    if (read.torn.length > 0) {
      logger.log("warn", "journal: dropped a torn last line (the previous run stopped mid-write)", { path, bytes: read.torn.length });
      this.#truncateTo(read.ends);
    }
    return read.entries;
  }

  append(entry: JournalEntry): void {
    const fd = this.#open();
    // After a failed write that could not be undone, the file ends in part of a line: this entry
    // starts on a line of its own, so that it stays whole (the part is a damaged line, which the
    // next compaction drops).
    const line = `${this.#endsMidLine ? "\n" : ""}${JSON.stringify(entry)}\n`;
    try {
      this.#bytes += writeAll(fd, line);
    } catch (error) {
      this.#rollBack(fd);
      throw error;
    }
    this.#endsMidLine = false;
    if (this.#options.fsync === "always") fsyncSync(fd);
    else this.#dirty = true;
  }

  /**
   * Compaction: reads the whole journal, keeps what `keep` selects, and writes that as the new
   * journal (see `replaceFile`), all with blocking calls, so that no append comes in between.
   * Damaged lines, reported when the journal was loaded, are dropped with one line in the log.
   */
  compact(keep: (entries: JournalEntry[]) => JournalEntry[]): CompactionOutcome {
    const { path, logger } = this.#options;
    const read = this.#read(0);
    const kept = keep(read.entries);
    const outcome = { kept: kept.length, dropped: read.entries.length - kept.length, damaged: read.damaged.length };
    if (outcome.dropped === 0 && outcome.damaged === 0 && read.torn.length === 0) return outcome;
    const text = kept.map((entry) => `${JSON.stringify(entry)}\n`).join("");
    this.#closeFd();
    replaceFile(path, text);
    this.#bytes = Buffer.byteLength(text);
    this.#endsMidLine = false;
    if (outcome.damaged > 0) logger.log("warn", "journal: compaction dropped damaged lines", { path, lines: outcome.damaged });
    return outcome;
  }

  /** The checkpoint lives next to the journal: `journal.jsonl` -> `journal.checkpoint.json`. */
  get checkpointPath(): string {
    const { path } = this.#options;
    return join(dirname(path), `${basename(path).replace(/\.jsonl?$/, "")}.checkpoint.json`);
  }

  loadCheckpoint(): Checkpoint | null {
    const path = this.checkpointPath;
    if (!existsSync(path)) return null;
    try {
      return JSON.parse(readFileSync(path, "utf8")) as Checkpoint;
    } catch (error) {
      // Written atomically, so this is damage from outside: the journal alone still recovers.
      this.#options.logger.log("error", "journal: ignored a damaged checkpoint; replaying the journal instead", { path, error: errorText(error) });
      return null;
    }
  }

  async saveCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const path = this.checkpointPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Tens of MiB for 10,000 users: written and synced off the event loop, then renamed into place.
    const temp = `${path}.tmp`;
    const file = await open(temp, "w", 0o600);
    try {
      await file.chmod(0o600);
      await file.writeFile(JSON.stringify(checkpoint));
      await file.sync();
    } finally {
      await file.close();
    }
    renameSync(temp, path);
    syncFolder(dirname(path));
  }

  size(): number {
    if (this.#fd === null && existsSync(this.#options.path)) this.#bytes = statSync(this.#options.path).size;
    return this.#bytes;
  }

  close(): void {
    if (this.#fd !== null && this.#dirty && this.#options.fsync !== "never") fsyncSync(this.#fd);
    this.#dirty = false;
    this.#closeFd();
  }

  /** `readJournalFile`, or nothing read when there is no file yet. */
  #read(afterSeq: number): JournalFileRead {
    if (!existsSync(this.#options.path)) return { entries: [], damaged: [], from: 0, ends: 0, torn: Buffer.alloc(0) };
    return readJournalFile(this.#options.path, afterSeq);
  }

  /**
   * Undoes a write that failed part way (a full disk): the file is cut back to its last whole
   * line, so that the next entry is not glued onto the part and lost with it. If even that fails,
   * the next append starts on a fresh line.
   */
  #rollBack(fd: number): void {
    try {
      ftruncateSync(fd, this.#bytes);
    } catch {
      this.#endsMidLine = true;
      try {
        this.#bytes = fstatSync(fd).size;
      } catch {
        // The size is read again when the file is next opened.
      }
    }
  }

  #open(): number {
    if (this.#fd !== null) return this.#fd;
    const { path, fsync, fsyncIntervalMs } = this.#options;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#fd = openSync(path, "a", 0o600);
    chmodSync(path, 0o600); // a file made by an older version, or by hand, may be wider
    this.#bytes = statSync(path).size;
    if (fsync === "interval" && !this.#timer) {
      // At most 2^31 - 1 ms, which is what a timer can wait: Node would run a longer interval every
      // 1 ms instead (a host's config need not have been checked).
      this.#timer = setInterval(() => this.#syncInBackground(), Math.min(fsyncIntervalMs, MAX_TIMER_DELAY_MS));
      (this.#timer as { unref?: () => void }).unref?.();
    }
    return this.#fd;
  }

  /**
   * The `interval` policy's fsync, off the event loop: on a busy or slow disk a synchronous one
   * stalled the service for over a second (10,000 users' heartbeats held up with it).
   */
  #syncInBackground(): void {
    const fd = this.#fd;
    if (fd === null || !this.#dirty || this.#syncing) return;
    this.#dirty = false;
    this.#syncing = true;
    fsync(fd, (error) => {
      this.#syncing = false;
      // A journal closed meanwhile was synced by its close; any other failure is worth a line.
      if (error && this.#fd === fd) this.#options.logger.log("warn", "journal: fsync failed", { error: error.message });
    });
  }

  #closeFd(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /**
   * Cuts the file to its first `length` bytes, in place: emptying it and writing the kept lines
   * back would lose the whole journal to a crash in between, and re-encoding them as text would
   * change any byte that is not valid UTF-8.
   */
  #truncateTo(length: number): void {
    const fd = openSync(this.#options.path, "r+");
    try {
      ftruncateSync(fd, length);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** What a read of a journal file found; the file itself is left as it is. */
export interface JournalFileRead {
  /** The entries, in file order (only those after `afterSeq`). */
  entries: JournalEntry[];
  /** Lines that are not v1 entries: their 1-based number among the lines read, and why. */
  damaged: Array<{ index: number; error: string }>;
  /** The byte offset the lines read start at: 0, or where a checkpoint's tail starts. */
  from: number;
  /** The byte offset where the last whole line ends. */
  ends: number;
  /** What follows the last newline: a torn line (a write cut short) when the file does not end in one. */
  torn: Buffer;
}

/**
 * Reads a journal file without changing it, a chunk at a time, so that a file larger than a
 * string can hold (2 GiB and more) is read as easily as a small one. After a checkpoint
 * (`afterSeq` > 0) only the tail after it is read. The journal's own `load` uses it and then cuts
 * a torn last line off; a tool that only looks (`nd-presence replay`, perhaps while the service
 * runs) must not. Throws what opening or reading the file throws (ENOENT, EISDIR...).
 */
export function readJournalFile(path: string, afterSeq = 0): JournalFileRead {
  const entries: JournalEntry[] = [];
  const damaged: Array<{ index: number; error: string }> = [];
  const lines = readLines(path, afterSeq, (line, index) => {
    if (line.trim() === "") return;
    try {
      const entry = JSON.parse(line) as JournalEntry;
      if (entry?.v !== 1 || typeof entry.seq !== "number" || typeof entry.event?.type !== "string") throw new Error("not a v1 entry");
      if (entry.seq > afterSeq) entries.push(entry);
    } catch (error) {
      damaged.push({ index, error: errorText(error) });
    }
  });
  return { entries, damaged, ...lines };
}

const LINE_START = Buffer.from('{"v":1,"seq":');
/** How much of the file is read at a time: the whole of it may be larger than a Buffer can be. */
const CHUNK_BYTES = 1 << 20;

/**
 * The byte offset of the first line with a seq above `afterSeq`, scanning whole lines back from
 * the end (lines this journal writes start `{"v":1,"seq":N,`), reading back in growing chunks: a
 * start after a checkpoint reads the tail, not a journal of any size. A line whose seq cannot be
 * read there is kept in the tail, where parsing it reports it.
 */
function tailStart(fd: number, size: number, afterSeq: number): number {
  let offset = size; // where `bytes` starts in the file
  let bytes: Buffer = Buffer.alloc(0);
  let end = 0; // the end of the line being looked at, in `bytes`
  for (let chunk = CHUNK_BYTES; offset > 0; chunk *= 2) {
    const from = Math.max(0, offset - chunk);
    const more = readAt(fd, from, offset - from);
    bytes = Buffer.concat([more, bytes]);
    end += more.length;
    offset = from;
    while (end > 0) {
      const newline = end >= 2 ? bytes.lastIndexOf(0x0a, end - 2) : -1;
      if (newline < 0 && offset > 0) break; // the line starts before what was read: read more
      const start = newline + 1;
      if (seqAt(bytes, start) <= afterSeq) return offset + end;
      end = start;
    }
  }
  return 0;
}

/**
 * Calls `each` with every whole line of the file (1-based index), or, after a checkpoint
 * (`afterSeq` > 0), of its tail: lines are in seq order, so the tail is found from the end.
 * Returns where the lines read start and where the last whole one ends, and what follows it: a
 * torn line, when the file does not end in a newline.
 */
function readLines(path: string, afterSeq: number, each: (line: string, index: number) => void): { from: number; ends: number; torn: Buffer } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const from = afterSeq > 0 ? tailStart(fd, size, afterSeq) : 0;
    return { from, ...forEachLine(fd, from, size, each) };
  } finally {
    closeSync(fd);
  }
}

/** `readLines` from `from` to `size`, a chunk at a time. */
function forEachLine(fd: number, from: number, size: number, each: (line: string, index: number) => void): { ends: number; torn: Buffer } {
  let rest: Buffer = Buffer.alloc(0);
  let ends = from;
  let index = 0;
  for (let position = from; position < size;) {
    const chunk = readAt(fd, position, Math.min(CHUNK_BYTES, size - position));
    position += chunk.length;
    const bytes = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    const last = bytes.lastIndexOf(0x0a);
    if (last < 0) {
      rest = bytes;
      continue;
    }
    // A newline is one byte in UTF-8 and never part of another character: cutting there is safe.
    for (const line of bytes.subarray(0, last).toString("utf8").split("\n")) each(line, ++index);
    rest = bytes.subarray(last + 1);
    ends = position - rest.length;
  }
  return { ends, torn: rest };
}

/** `length` bytes of the file at `position` (readSync may return fewer than asked: keep going). */
function readAt(fd: number, position: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, bytes, read, length - read, position + read);
    if (n === 0) return bytes.subarray(0, read); // the file got shorter meanwhile
    read += n;
  }
  return bytes;
}

function seqAt(bytes: Buffer, start: number): number {
  if (!bytes.subarray(start, start + LINE_START.length).equals(LINE_START)) return Infinity;
  let seq = 0;
  let i = start + LINE_START.length;
  for (; i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39; i++) seq = seq * 10 + (bytes[i]! - 0x30);
  return i > start + LINE_START.length && bytes[i] === 0x2c ? seq : Infinity;
}

/**
 * Writes a temp file (0600), fsyncs it, renames it over `path`, fsyncs the folder: all or nothing.
 * A temp file that could not be written whole (a full disk) is removed, and `path` is untouched.
 */
function replaceFile(path: string, text: string): void {
  const temp = `${path}.tmp`;
  try {
    const fd = openSync(temp, "w", 0o600);
    try {
      fchmodSync(fd, 0o600); // a stale temp file from a crash may have been wider
      writeAll(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  renameSync(temp, path);
  syncFolder(dirname(path));
}

function syncFolder(folder: string): void {
  try {
    const fd = openSync(folder, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some systems cannot fsync a folder; the rename is still atomic.
  }
}

/**
 * Writes all of `text` and returns its length in bytes. writeSync may write less than asked (a
 * full disk, a signal): keep going, or throw.
 */
function writeAll(fd: number, text: string): number {
  const bytes = Buffer.from(text);
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
  return bytes.length;
}
