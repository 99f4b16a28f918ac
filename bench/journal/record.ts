/**
 * Where generate.ts's shapes come from, and the check that they still hold: drives the real
 * service under `preciseClock` against the fake gateway for a few users (Navidrome-like tracks,
 * artwork that cannot be found), then compares the journal it wrote with a generated one: the
 * first entries of each user, the keys of each event type, the socket numbers, and the time of
 * the first heartbeat ACK (generate.ts derives it from the machine's seeded generator).
 *
 * `tsx bench/journal/record.ts [--print]`; exits 1 on a mismatch. Not part of `npm run bench`.
 */
import type { Track } from "../../src/actors/track.ts";
import type { JournalEntry } from "../../src/adapters/journal/journal.ts";
import { nextRandom, seedFrom } from "../../src/actors/random.ts";
import { preciseClock, startHarness, T0 } from "../../test/harness.ts";
import { generateJournal, HEARTBEAT_INTERVAL_MS } from "./generate.ts";
import { serviceWire } from "./wire-records.ts";

const USERS = ["user00000", "user00001", "user00002"];
const STEP_MS = 1_000;

const track = (n: number, durationMs: number): Track => ({
  id: `tr${n}`,
  title: `Song ${n}`,
  artist: "Artist",
  album: `Album ${n}`,
  albumArtist: "Artist",
  durationMs,
  coverArtId: `al-${n}_0`,
  mbids: { recording: `0000000${n}-0000-0000-0000-000000000000` },
});

async function record(): Promise<JournalEntry[]> {
  const clock = preciseClock();
  const h = await startHarness({
    clock,
    configureGatewayUrl: true,
    config: { artwork: { defaultImage: null, musicBrainzLookup: false } },
    users: USERS.map((username) => ({ username, discordToken: "mfa.alice-SECRET-token-0123456789" })),
  });
  try {
    // As the Subsonic poller emits it (subsonic-poller.ts).
    const play = (user: string, t: Track) => h.dispatch({ type: "playback.playing", user, track: t, positionMs: 0 });
    USERS.forEach((user, i) => play(user, track(i, 200_000)));
    for (let t = 0; t < 200_000; t += STEP_MS) await h.advance(t === 0 ? 0 : STEP_MS);
    USERS.forEach((user, i) => play(user, track(10 + i, 200_000)));
    for (let t = 0; t < 60_000; t += STEP_MS) await h.advance(STEP_MS);
    return await h.journal.load();
  } finally {
    await h.close();
  }
}

const recorded = await record();
if (process.argv.includes("--print")) { for (const entry of recorded) console.log(JSON.stringify(entry)); }
const generated = generateJournal({ users: 3, eventsPerUser: 40 });
const problems: string[] = [];
const typesOf = (entries: JournalEntry[], stream: string) => entries.filter((e) => e.stream === stream).map((e) => e.event.type);

for (const user of USERS) {
  const want = typesOf(recorded, `user:${user}`).slice(0, 5).join(",");
  const got = typesOf(generated, `user:${user}`).slice(0, 5).join(",");
  if (want !== got) problems.push(`${user}: first entries recorded ${want}, generated ${got}`);
  // Today's service: the first ACK follows the first beat, interval x the machine's first draw after Hello.
  if (serviceWire !== "acks") continue;
  const mine = recorded.filter((e) => e.stream === `user:${user}`);
  const hello = mine.find((e) => e.event.type === "gateway.hello")!;
  const ack = mine.find((e) => (e.event.type as string) === "gateway.heartbeatAck")!;
  const beat = hello.at + Math.floor(HEARTBEAT_INTERVAL_MS * nextRandom(seedFrom(user, T0))[0]);
  if (ack.at < beat || ack.at > beat + STEP_MS) problems.push(`${user}: first ACK at +${ack.at - hello.at} ms, expected the beat at +${beat - hello.at} ms`);
}
const keys = new Map<string, string>();
for (const entry of recorded) keys.set(entry.event.type, Object.keys(entry.event).join(","));
for (const entry of generated) {
  const want = keys.get(entry.event.type);
  const got = Object.keys(entry.event).join(",");
  // The test fake sends no dispatches, so a connection that owns the wire has no `s` to note.
  if (want === undefined && (entry.event.type as string) === "gateway.seq") continue;
  if (want === undefined) problems.push(`generated ${entry.event.type}, which the real run never wrote`);
  else if (want !== got) problems.push(`${entry.event.type}: keys recorded ${want}, generated ${got}`);
  if (Object.keys(entry).join(",") !== "v,seq,at,stream,event") problems.push(`entry keys ${Object.keys(entry).join(",")}`);
  if ("socket" in entry.event && entry.event.socket !== 1) problems.push(`socket ${entry.event.socket}`);
}
for (const type of keys.keys()) if (!generated.some((e) => e.event.type === type)) problems.push(`the real run wrote ${type}, the generator never does`);

const unique = [...new Set(problems)];
console.log(unique.length === 0 ? `ok: ${recorded.length} recorded entries match the generator's shapes` : unique.join("\n"));
process.exitCode = unique.length === 0 ? 0 : 1;
