import { Buffer } from "node:buffer";
import { closeSync, fchmodSync, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeSync, chmodSync, existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Checkpoint } from "../checkpoint.ts";
import { errorText } from "../errors.ts";
import type { Journal, JournalEntry } from "./journal.ts";
import type { Logger } from "./logger.ts";

/**
 * When the journal file is fsynced.
 * - `always`: after every append. Nothing is lost even on power loss; slowest.
 * - `interval` (default): every `fsyncIntervalMs` (1 s) when something was written, on libuv's
 *   thread pool (a slow disk must not hold up every user's heartbeat). Every append is written to
 *   the OS at once, so a crash or SIGKILL of nd-presence loses nothing; a power loss loses at most
 *   the last interval or two.
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
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: JsonlJournalOptions) {
    this.#options = { fsync: "interval", fsyncIntervalMs: 1_000, ...options };
  }

  async load(afterSeq = 0): Promise<JournalEntry[]> {
    const { path, logger } = this.#options;
    if (!existsSync(path)) return [];
    const entries: JournalEntry[] = [];
    const damaged: Array<{ index: number; error: string }> = [];
    const { from, ends, torn } = readLines(path, afterSeq, (line, index) => {
      if (line.trim() === "") return;
      try {
        const entry = JSON.parse(line) as JournalEntry;
        if (entry?.v !== 1 || typeof entry.seq !== "number" || typeof entry.event?.type !== "string") throw new Error("not a v1 entry");
        if (entry.seq > afterSeq) entries.push(entry);
      } catch (error) {
        damaged.push({ index, error: errorText(error) });
      }
    });
    // Never block start-up: a damaged line is reported and skipped.
    for (const { index, error } of damaged) {
      const where = from > 0 ? { lineAfterCheckpoint: index } : { line: index };
      logger.log("error", "journal: skipped a damaged line", { path, ...where, error });
    }
    // A file that does not end in a newline was cut mid-write: its last line is torn.
    if (torn.length > 0) {
      logger.log("warn", "journal: dropped a torn last line (the previous run stopped mid-write)", { path, bytes: torn.length });
      this.#truncateTo(ends);
    }
    return entries;
  }

  append(entry: JournalEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    const fd = this.#open();
    this.#bytes += writeAll(fd, line); // encoded once
    if (this.#options.fsync === "always") fsyncSync(fd);
    else this.#dirty = true;
  }

  async flush(): Promise<void> {
    if (this.#fd !== null && this.#dirty && this.#options.fsync !== "never") fsyncSync(this.#fd);
    this.#dirty = false;
  }

  /** Compaction: the new journal replaces the old one atomically (see `replaceFile`). */
  async rewrite(entries: JournalEntry[]): Promise<void> {
    const text = entries.map((entry) => `${JSON.stringify(entry)}\n`).join("");
    this.#closeFd();
    replaceFile(this.#options.path, text);
    this.#bytes = Buffer.byteLength(text);
  }

  /** The checkpoint lives next to the journal: `journal.jsonl` -> `journal.checkpoint.json`. */
  get checkpointPath(): string {
    const { path } = this.#options;
    return join(dirname(path), `${basename(path).replace(/\.jsonl?$/, "")}.checkpoint.json`);
  }

  async loadCheckpoint(): Promise<Checkpoint | null> {
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

  async close(): Promise<void> {
    await this.flush();
    this.#closeFd();
  }

  #open(): number {
    if (this.#fd !== null) return this.#fd;
    const { path, fsync, fsyncIntervalMs } = this.#options;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#fd = openSync(path, "a", 0o600);
    chmodSync(path, 0o600); // a file made by an older version, or by hand, may be wider
    this.#bytes = statSync(path).size;
    if (fsync === "interval" && !this.#timer) {
      this.#timer = setInterval(() => this.#syncInBackground(), fsyncIntervalMs);
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
  for (let position = from; position < size; ) {
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

/** Writes a temp file (0600), fsyncs it, renames it over `path`, fsyncs the folder: all or nothing. */
function replaceFile(path: string, text: string): void {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    fchmodSync(fd, 0o600); // a stale temp file from a crash may have been wider
    writeAll(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
