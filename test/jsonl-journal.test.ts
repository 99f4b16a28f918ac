import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { JournalEntry } from "../src/adapters/journal/journal.ts";
import { type FsyncPolicy, JsonlJournal, readJournalFile } from "../src/adapters/journal/jsonl-journal.ts";
import { memoryLogger } from "../src/adapters/logger.ts";
import { compactJournal, JournalHistory } from "../src/service/compaction.ts";
import { song, startHarness, T0, TOKENS } from "./harness.ts";

// fsync cannot be seen from outside: count the calls, and let them through. Writes and truncates
// go through too, unless a test makes the disk fail the way a full one does.
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return {
    ...actual,
    fsyncSync: vi.fn(actual.fsyncSync),
    fsync: vi.fn(actual.fsync),
    writeSync: vi.fn(actual.writeSync),
    ftruncateSync: vi.fn(actual.ftruncateSync),
  };
});
const fsyncs = vi.mocked(fs.fsyncSync);
/** The `interval` policy's, off the event loop. */
const backgroundFsyncs = vi.mocked(fs.fsync);
const writes = vi.mocked(fs.writeSync);
const realWriteSync = (await vi.importActual<typeof import("node:fs")>("node:fs")).writeSync;
/** What a disk that fills up does: half of what was asked is really written, then ENOSPC. */
function diskFullDuringNextWrite(): void {
  const halfWrite = (fd: number, buffer: Uint8Array, offset: number, length: number) => realWriteSync(fd, buffer, offset, Math.floor(length / 2));
  writes.mockImplementationOnce(halfWrite as typeof fs.writeSync).mockImplementationOnce(() => {
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  });
}
const truncates = vi.mocked(fs.ftruncateSync);

const root = mkdtempSync(join(tmpdir(), "nd-presence-journal-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dir: string;
let case_ = 0;
beforeEach(() => {
  dir = join(root, `case-${++case_}`);
  fsyncs.mockClear();
  backgroundFsyncs.mockClear();
});

const entry = (seq: number, user = "alice"): JournalEntry => ({
  v: 1,
  seq,
  at: T0 + seq * 1_000,
  stream: `user:${user}`,
  event: { type: "playback.stopped", user, at: T0 + seq * 1_000 },
});
const modeOf = (path: string) => statSync(path).mode & 0o777;
const linesOf = (path: string) => readFileSync(path, "utf8").split("\n").slice(0, -1);

function open(options: { path?: string; fsync?: FsyncPolicy; fsyncIntervalMs?: number } = {}) {
  const logger = memoryLogger();
  const path = options.path ?? join(dir, "data", "journal.jsonl");
  const journal = new JsonlJournal({ ...options, path, logger });
  return { journal, logger, path };
}

/**
 * Entry 1 is appended; entry 2 meets a full disk (half of it written, then ENOSPC), and with
 * `cutFails` the half cannot be cut off either; entry 3 goes through. The journal's size must
 * match the file's all along.
 */
function appendsThroughFullDisk({ cutFails }: { cutFails: boolean }) {
  const opened = open();
  const { journal, path } = opened;
  journal.append(entry(1));
  diskFullDuringNextWrite();
  if (cutFails) {
    truncates.mockImplementationOnce(() => {
      throw Object.assign(new Error("EIO: i/o error, ftruncate"), { code: "EIO" });
    });
  }
  expect(() => journal.append(entry(2))).toThrow(/ENOSPC/);
  journal.append(entry(3));
  expect(journal.size()).toBe(statSync(path).size);
  journal.close();
  return opened;
}

describe("JsonlJournal", () => {
  it("creates its file with mode 0600 in a folder it creates, and narrows an existing 0644 file", async () => {
    const { journal, path } = open();
    expect(existsSync(join(dir, "data"))).toBe(false);
    journal.append(entry(1));
    expect(modeOf(path)).toBe(0o600);
    expect(modeOf(join(dir, "data"))).toBe(0o700);
    await journal.close();

    const wide = join(dir, "wide.jsonl");
    writeFileSync(wide, `${JSON.stringify(entry(1))}\n`);
    chmodSync(wide, 0o644);
    const second = open({ path: wide });
    await second.journal.load();
    expect(modeOf(wide)).toBe(0o644); // loading does not write
    second.journal.append(entry(2));
    expect(modeOf(wide)).toBe(0o600);
    await second.journal.close();
  });

  it("writes each append to the file at once, before any flush, even with fsync never", async () => {
    const { journal, path } = open({ fsync: "never" });
    journal.append(entry(1));
    expect(linesOf(path)).toEqual([JSON.stringify(entry(1))]);
    journal.append(entry(2));
    expect(linesOf(path)).toHaveLength(2);
    expect(journal.size()).toBe(statSync(path).size);
    await journal.close();
  });

  it("loads entries in the order they were appended", async () => {
    const { journal, path } = open();
    for (const seq of [1, 2, 3, 4, 5]) journal.append(entry(seq, seq % 2 ? "alice" : "bob"));
    await journal.close();
    const loaded = await open({ path }).journal.load();
    expect(loaded).toEqual([1, 2, 3, 4, 5].map((seq) => entry(seq, seq % 2 ? "alice" : "bob")));
    // After a checkpoint at seq 3, only the tail: the lines before it are not even decoded.
    const lines = linesOf(path);
    writeFileSync(path, [...lines.slice(0, 2), '{"v":1,"seq":2,"damaged, but covered by the checkpoint', ...lines.slice(2), ""].join("\n"));
    const tail = open({ path });
    expect(await tail.journal.load(3)).toEqual([4, 5].map((seq) => entry(seq, seq % 2 ? "alice" : "bob")));
    expect(tail.logger.entries).toEqual([]);
    expect(await tail.journal.load(5)).toEqual([]);
    expect(await tail.journal.load()).toHaveLength(5); // and the whole file, damaged line reported
    expect(tail.logger.entries.map((e) => e.message)).toEqual(["journal: skipped a damaged line"]);
  });

  it("reads a chunk at a time: lines across chunks' edges load, and after a checkpoint only the tail is read, whatever the file's size", async () => {
    const { journal, path } = open();
    const all = Array.from({ length: 20_000 }, (_, i) => entry(i + 1, `user-${i % 7}`)); // 2.7 MiB: three chunks
    for (const e of all) journal.append(e);
    await journal.close();
    expect(await open({ path }).journal.load()).toEqual(all);
    expect(await open({ path }).journal.load(12_345)).toEqual(all.slice(12_345));

    // A journal with a 3 GiB head (a hole: no disk used). A file that size cannot be read whole
    // (Node refuses files over 2 GiB), yet a start after a checkpoint needs only its tail.
    const big = join(dir, "big.jsonl");
    const fd = fs.openSync(big, "w");
    const head = 3 * 2 ** 30;
    fs.ftruncateSync(fd, head);
    const lines = ["", ...[2, 3, 4].map((seq) => JSON.stringify(entry(seq))), ""].join("\n");
    // A Buffer and a position: Deno's node:fs writes a string at the current offset whatever the position.
    fs.writeSync(fd, Buffer.from(lines), 0, Buffer.byteLength(lines), head);
    fs.closeSync(fd);
    const tail = open({ path: big });
    expect(await tail.journal.load(2)).toEqual([entry(3), entry(4)]);
    expect(tail.logger.entries).toEqual([]);
    expect(statSync(big).size).toBe(head + lines.length); // nothing cut

    // An empty first line, and every line after the checkpoint: the scan back ends at the start.
    const blank = join(dir, "blank.jsonl");
    writeFileSync(blank, ["", JSON.stringify(entry(5)), JSON.stringify(entry(6)), ""].join("\n"));
    expect(await open({ path: blank }).journal.load(3)).toEqual([entry(5), entry(6)]);
  });

  it("drops a torn last line with a warning, truncates the file to the last whole line, and appends after it", async () => {
    const first = open();
    first.journal.append(entry(1));
    first.journal.append(entry(2));
    await first.journal.close();
    // A line that is not valid UTF-8 must survive the truncation byte for byte.
    appendFileSync(first.path, Buffer.from([0x7b, 0xff, 0x0a]));
    const whole = readFileSync(first.path);
    // A crash in the middle of a write: half a line, no newline, cut inside a 2-byte character.
    const line = Buffer.from(JSON.stringify({ ...entry(3), note: "Café" }));
    appendFileSync(first.path, line.subarray(0, line.indexOf("é") + 1));

    const { journal, logger, path } = open({ path: first.path });
    expect(await journal.load()).toEqual([entry(1), entry(2)]);
    expect(logger.entries).toContainEqual(expect.objectContaining({ level: "warn", message: expect.stringContaining("torn last line") }));
    expect(readFileSync(path).equals(whole)).toBe(true);
    journal.append(entry(3));
    await journal.close();
    expect(await open({ path }).journal.load()).toEqual([entry(1), entry(2), entry(3)]);
    expect(readFileSync(path, "utf8").endsWith(`${JSON.stringify(entry(3))}\n`)).toBe(true);
  });

  it("skips a damaged line in the middle with an error log, and loads the rest", async () => {
    const path = join(dir, "damaged.jsonl");
    fs.mkdirSync(dir, { recursive: true });
    writeFileSync(path, [JSON.stringify(entry(1)), "{not json", JSON.stringify({ v: 2, seq: 9 }), JSON.stringify(entry(2)), ""].join("\n"));
    const { journal, logger } = open({ path });
    expect(await journal.load()).toEqual([entry(1), entry(2)]);
    const errors = logger.entries.filter((e) => e.level === "error");
    expect(errors.map((e) => e.data?.line)).toEqual([2, 3]);
    expect(errors[0]!.message).toContain("damaged line");
  });

  it("reads a file for a tool without changing it: torn last line and damaged lines reported, not cut", () => {
    const path = join(dir, "looked-at.jsonl");
    fs.mkdirSync(dir, { recursive: true });
    const text = [JSON.stringify(entry(1)), "{not json", JSON.stringify(entry(2)), '{"v":1,"seq":3,"at":'].join("\n");
    writeFileSync(path, text);
    const read = readJournalFile(path);
    expect(read.entries).toEqual([entry(1), entry(2)]);
    expect(read.damaged.map((line) => line.index)).toEqual([2]);
    expect(read.torn.toString()).toBe('{"v":1,"seq":3,"at":');
    expect(readFileSync(path, "utf8")).toBe(text);
    expect(() => readJournalFile(join(dir, "missing.jsonl"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
  });

  it("compacts atomically: no temp file left, the kept entries load, later appends go to the new file", async () => {
    const { journal, path } = open();
    for (const seq of [1, 2, 3, 4]) journal.append(entry(seq));
    const before = journal.size();
    expect(journal.compact((entries) => entries.filter((e) => e.seq >= 3))).toEqual({ kept: 2, dropped: 2, damaged: 0 });
    expect(readdirSync(join(dir, "data"))).toEqual(["journal.jsonl"]);
    expect(modeOf(path)).toBe(0o600);
    expect(await journal.load()).toEqual([entry(3), entry(4)]);
    expect(journal.size()).toBe(statSync(path).size);
    expect(journal.size()).toBeLessThan(before);
    journal.append(entry(5));
    expect(journal.size()).toBe(statSync(path).size);
    await journal.close();
    expect(await open({ path }).journal.load()).toEqual([entry(3), entry(4), entry(5)]);
  });

  it("a full disk mid-append: the part written is cut off, the next entry is whole, the size is right", () => {
    const { path, logger } = appendsThroughFullDisk({ cutFails: false });
    const reopened = open({ path });
    expect(reopened.journal.load()).toEqual([entry(1), entry(3)]);
    expect([...logger.entries, ...reopened.logger.entries].filter((e) => e.level !== "debug")).toEqual([]);
  });

  it("a part that cannot be cut off: the next entry starts on a fresh line, and compaction drops the part once", () => {
    const { path } = appendsThroughFullDisk({ cutFails: true });
    const reopened = open({ path });
    expect(reopened.journal.load()).toEqual([entry(1), entry(3)]);
    expect(reopened.logger.entries.filter((e) => e.level === "error").map((e) => e.data?.line)).toEqual([2]);
    // The next compaction drops the damaged part, with one line in the log; the one after has
    // nothing to say, and neither has a later start.
    expect(reopened.journal.compact((entries) => entries)).toEqual({ kept: 2, dropped: 0, damaged: 1 });
    expect(reopened.journal.compact((entries) => entries)).toEqual({ kept: 2, dropped: 0, damaged: 0 });
    expect(reopened.logger.entries.filter((e) => e.message.includes("compaction dropped damaged lines"))).toEqual([
      { level: "warn", message: "journal: compaction dropped damaged lines", data: { path, lines: 1 } },
    ]);
    const again = open({ path });
    expect(again.journal.load()).toEqual([entry(1), entry(3)]);
    expect(again.logger.entries).toEqual([]);
  });

  it("compaction keeps an entry appended in a microtask queued before it: read, select and rewrite are one step", async () => {
    const { journal, path } = open();
    journal.append(entry(1, "bob"));
    journal.append(entry(2, "alice"));
    // An artwork answer's `.then`, or the receiver after reading a body, appending meanwhile.
    queueMicrotask(() => journal.append(entry(3, "alice")));
    const history = new JournalHistory();
    history.started("alice", 2);
    await compactJournal(journal, history, (user) => user === "alice", 2);
    await journal.close();
    expect(await open({ path }).journal.load()).toEqual([entry(2, "alice"), entry(3, "alice")]);
  });

  it("fsyncs after every append with always, on a timer off the event loop with interval, never with never; close flushes", async () => {
    const always = open({ path: join(dir, "always.jsonl"), fsync: "always" });
    always.journal.append(entry(1));
    always.journal.append(entry(2));
    expect(fsyncs).toHaveBeenCalledTimes(2);
    await always.journal.close();
    expect(await open({ path: always.path }).journal.load()).toHaveLength(2);

    fsyncs.mockClear();
    // The interval's timer on a fake clock: each tick is one step, not a real wait.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const interval = open({ path: join(dir, "interval.jsonl"), fsync: "interval", fsyncIntervalMs: 20 });
      interval.journal.append(entry(1));
      expect(backgroundFsyncs).not.toHaveBeenCalled();
      vi.advanceTimersByTime(20);
      expect(backgroundFsyncs).toHaveBeenCalledTimes(1);
      // Nothing new written: the later ticks have nothing to sync.
      vi.advanceTimersByTime(200);
      expect(backgroundFsyncs).toHaveBeenCalledTimes(1);
      expect(fsyncs).not.toHaveBeenCalled(); // never on the event loop
      interval.journal.append(entry(2));
      interval.journal.close();
      expect(fsyncs).toHaveBeenCalledTimes(1); // close syncs what the timer has not yet
    } finally {
      vi.useRealTimers();
    }
    expect(open({ path: join(dir, "interval.jsonl") }).journal.load()).toHaveLength(2);

    fsyncs.mockClear();
    const never = open({ path: join(dir, "never.jsonl"), fsync: "never" });
    never.journal.append(entry(1));
    never.journal.close();
    expect(fsyncs).not.toHaveBeenCalled();
    expect(backgroundFsyncs).toHaveBeenCalledTimes(1); // the interval journal's, above
    expect(await open({ path: never.path }).journal.load()).toHaveLength(1);
  });

  it("holds no secret after a real session: every line a v1 entry, seq strictly increasing", async () => {
    const { journal, path } = open();
    const h = await startHarness({ journal, users: [{ username: "alice", discordToken: TOKENS.alice }, { username: "bob", discordToken: TOKENS.bob }] });
    try {
      h.play(song);
      await h.waitForPresence((a) => a?.details === song.title); // after READY
      await h.advance(45_000);
      await h.service.stop();
    } finally {
      await h.close();
    }
    const text = readFileSync(path, "utf8");
    for (const token of Object.values(TOKENS)) expect(text).not.toContain(token);
    const lines = linesOf(path).map((line) => JSON.parse(line) as JournalEntry);
    expect(lines.map((e) => e.event.type)).toEqual(expect.arrayContaining(["playback.playing", "gateway.ready", "service.shutdown"]));
    for (const [index, line] of lines.entries()) {
      expect(Object.keys(line).sort()).toEqual(["at", "event", "seq", "stream", "v"]);
      expect(line).toMatchObject({ v: 1, seq: expect.any(Number), at: expect.any(Number), stream: expect.stringMatching(/^(user:\w+|service)$/) });
      expect(typeof line.event.type).toBe("string");
      if (index > 0) expect(line.seq).toBeGreaterThan(lines[index - 1]!.seq);
    }
  });

  it("keeps its checkpoint next to it (0600, atomic, no secret), and refuses a damaged one with an error", async () => {
    const { journal, logger, path } = open();
    expect(await journal.loadCheckpoint()).toBeNull();
    const h = await startHarness({ journal });
    try {
      h.play(song);
      await h.waitForPresence();
      await h.advance(45_000);
      await h.service.compact();
    } finally {
      await h.close();
    }
    const checkpointPath = join(dir, "data", "journal.checkpoint.json");
    expect(journal.checkpointPath).toBe(checkpointPath);
    expect(modeOf(checkpointPath)).toBe(0o600);
    expect(readdirSync(join(dir, "data")).sort()).toEqual(["journal.checkpoint.json", "journal.jsonl"]);
    const text = readFileSync(checkpointPath, "utf8");
    for (const token of Object.values(TOKENS)) expect(text).not.toContain(token);
    const checkpoint = await journal.loadCheckpoint();
    expect(checkpoint).toMatchObject({ v: 1, seq: linesOf(path).length, timers: expect.any(Array) });
    expect(checkpoint!.timers.length).toBeGreaterThan(0);

    writeFileSync(checkpointPath, text.slice(0, text.length / 2));
    expect(await journal.loadCheckpoint()).toBeNull();
    expect(logger.entries.some((e) => e.level === "error" && e.message.includes("damaged checkpoint"))).toBe(true);
  });
});
