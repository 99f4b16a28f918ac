import { afterEach, describe, expect, it } from "vitest";
import type { Track } from "../src/actors/track.ts";
import { type Harness, startHarness } from "./harness.ts";

let h: Harness;
afterEach(async () => h?.close());

/** A UTF-16 half with no other half: Discord cannot read it as text. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** How JSON.stringify writes a lone surrogate in a frame: `\ud83d`. */
const escapedSurrogate = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

describe("text sent to Discord is well-formed", () => {
  it("a track whose title, artist and album hold lone surrogates reaches Discord's gateway with U+FFFD in their place", async () => {
    h = await startHarness({ config: { presence: { name: "{albumArtist}", largeText: "{album}" } } });
    const broken: Track = { title: "\ud83d Pyramid Song", artist: "A\udc00B", album: "Amnesiac \ud83c", albumArtist: "\udfffX", durationMs: 289_000 };
    h.play(broken);
    const frame = await h.waitForPresence((activity) => activity !== null);

    // What went over the loopback socket: no lone surrogate, raw or escaped by JSON.
    expect(frame.raw).not.toMatch(escapedSurrogate);
    expect(frame.raw).not.toMatch(loneSurrogate);
    const activity = h.activityOf(frame)!;
    expect([activity.name, activity.details, activity.state, activity.assets?.large_text]).toEqual([
      "\ufffdX",
      "\ufffd Pyramid Song",
      "A\ufffdB",
      "Amnesiac \ufffd",
    ]);
  });
});
