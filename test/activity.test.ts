import { describe, expect, it } from "vitest";
import { activityKey, buildActivity, fillTemplate, fitPresenceFrame, presencePayload, truncateText, utf8Length } from "../src/actors/activity.ts";
import { safeUrl } from "../src/actors/discord-protocol.ts";
import type { PresencePayload } from "../src/actors/effects.ts";
import { wellFormed } from "../src/actors/well-formed.ts";
import { defaultPresenceSettings, type PresenceSettings } from "../src/actors/settings.ts";
import type { Playback, Track } from "../src/actors/track.ts";

const at = 1_700_000_000_000;
const track: Track = {
  title: "Paranoid Android",
  artist: "Radiohead",
  album: "OK Computer",
  albumArtist: "Radiohead",
  durationMs: 200_000,
  mbids: { recording: "rec-1", release: "rel-1", releaseGroup: "rg-1", artists: ["art-1", "art-2"] },
};
const playing = (over: Partial<Playback> = {}): Playback => ({
  track,
  positionMs: 30_000,
  playbackRate: 1,
  paused: false,
  at,
  ...over,
});
const settings = (over: Partial<PresenceSettings> = {}): PresenceSettings => ({
  ...defaultPresenceSettings,
  applicationId: "1234",
  ...over,
});
const loneHighSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/;
const frameBytes = (p: PresencePayload) => utf8Length(JSON.stringify({ op: 3, d: p }));

describe("fillTemplate", () => {
  it("fills title, artist, album and album artist", () => {
    expect(fillTemplate("{title} by {artist} on {album} ({albumArtist})", track)).toBe(
      "Paranoid Android by Radiohead on OK Computer (Radiohead)",
    );
  });

  it("a missing field is empty and the leftover whitespace is collapsed and trimmed", () => {
    expect(fillTemplate("  {album}   {title}\n\t{albumArtist} ", { title: "Song", artist: "A" })).toBe("Song");
  });

  it("an unknown placeholder is left as written", () => {
    expect(fillTemplate("{title} {year}", track)).toBe("Paranoid Android {year}");
  });

  it("a title that looks like a placeholder is not expanded again", () => {
    expect(fillTemplate("{title}", { title: "{artist}", artist: "A" })).toBe("{artist}");
  });
});

describe("truncateText", () => {
  it("text within the limit is unchanged", () => {
    expect(truncateText("a".repeat(128))).toBe("a".repeat(128));
  });

  it("a 200-char title is cut to 128 with an ellipsis", () => {
    const out = truncateText("a".repeat(200));
    expect(out).toBe("a".repeat(127) + "\u2026");
    expect(out.length).toBe(128);
  });

  it("an emoji at the cut is not split", () => {
    const out = truncateText("\u{1F600}".repeat(100));
    // 63 emoji = 126 code units; a 64th would leave no room for the ellipsis
    expect(out).toBe("\u{1F600}".repeat(63) + "\u2026");
    expect(out).not.toMatch(loneHighSurrogate);
  });

  it("an accent at the cut stays with its letter", () => {
    const out = truncateText("a".repeat(126) + "e\u0301" + "z".repeat(10));
    expect(out).toBe("a".repeat(126) + "\u2026");
  });

  it("a family emoji at the cut is kept whole or not at all", () => {
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}";
    const out = truncateText("a".repeat(120) + family + "z".repeat(10));
    expect(out).toBe("a".repeat(120) + "\u2026");
  });

  it("a space before the cut is not kept before the ellipsis", () => {
    expect(truncateText("abc def", 5)).toBe("abc\u2026");
  });

  it("a one-character text is padded to two with a zero width space", () => {
    expect(truncateText("x")).toBe("x\u200B");
    expect(truncateText("\u{1F3B5}")).toBe("\u{1F3B5}\u200B");
    expect(truncateText("")).toBe("");
    expect(truncateText("ab")).toBe("ab");
  });
});

describe("safeUrl", () => {
  it("an https or http link is kept", () => {
    expect(safeUrl("https://musicbrainz.org/artist/a")).toBe("https://musicbrainz.org/artist/a");
    expect(safeUrl("http://example.com/x")).toBe("http://example.com/x");
  });

  it("a non-https link is dropped", () => {
    expect(safeUrl("javascript:alert(1)")).toBeUndefined();
    expect(safeUrl("ftp://example.com/a")).toBeUndefined();
    expect(safeUrl("not a url")).toBeUndefined();
    expect(safeUrl("")).toBeUndefined();
    expect(safeUrl(undefined)).toBeUndefined();
  });

  it("a link over 256 chars is dropped, not truncated", () => {
    const base = "https://example.com/";
    expect(safeUrl(base + "a".repeat(256 - base.length))).toHaveLength(256);
    expect(safeUrl(base + "a".repeat(257 - base.length))).toBeUndefined();
  });

  it("a link carrying credentials is dropped: userinfo or a credential query parameter", () => {
    expect(safeUrl("https://user:pass@example.com/")).toBeUndefined();
    expect(safeUrl("https://nd.example.org/rest/getCoverArt?id=1&u=admin&t=abc&s=salt")).toBeUndefined();
    expect(safeUrl("https://img.example.org/a.jpg?apiKey=k")).toBeUndefined();
    expect(safeUrl("https://img.example.org/a.jpg?size=500")).toBe("https://img.example.org/a.jpg?size=500");
  });
});

describe("buildActivity", () => {
  it("a playing track gives the full Listening activity in a fixed key order", () => {
    const activity = buildActivity(playing(), settings(), { large: "mp:external/cover" });
    expect(JSON.stringify(activity)).toBe(
      JSON.stringify({
        type: 2,
        name: "Navidrome",
        application_id: "1234",
        status_display_type: 2,
        details: "Paranoid Android",
        details_url: "https://musicbrainz.org/recording/rec-1",
        state: "Radiohead",
        state_url: "https://musicbrainz.org/artist/art-1",
        timestamps: { start: at - 30_000, end: at - 30_000 + 200_000 },
        assets: {
          large_image: "mp:external/cover",
          large_text: "OK Computer",
          large_url: "https://musicbrainz.org/release/rel-1",
        },
      }),
    );
  });

  it("progress bar spans the track at double speed", () => {
    const { timestamps } = buildActivity(playing({ playbackRate: 2 }), settings(), {});
    expect(timestamps).toEqual({ start: at - 15_000, end: at - 15_000 + 100_000 });
  });

  it("timestamps are whole milliseconds", () => {
    const { timestamps } = buildActivity(playing({ positionMs: 10_000, playbackRate: 3 }), settings(), {});
    expect(timestamps).toEqual({ start: Math.round(at - 10_000 / 3), end: Math.round(at - 10_000 / 3) + 66_667 });
  });

  it("a zero or non-finite rate counts as normal speed", () => {
    for (const playbackRate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(buildActivity(playing({ playbackRate }), settings(), {}).timestamps).toEqual({
        start: at - 30_000,
        end: at + 170_000,
      });
    }
  });

  it("a track of unknown length shows an elapsed clock only", () => {
    const { timestamps } = buildActivity(playing({ track: { ...track, durationMs: undefined } }), settings(), {});
    expect(timestamps).toEqual({ start: at - 30_000 });
  });

  it("paused shows an elapsed clock and a Paused image", () => {
    const activity = buildActivity(playing({ paused: true, playbackRate: 2 }), settings(), {
      large: "mp:external/cover",
      paused: "mp:external/pause",
    });
    expect(activity.timestamps).toEqual({ start: at - 30_000 });
    expect(activity.assets).toEqual({
      large_image: "mp:external/cover",
      large_text: "OK Computer",
      large_url: "https://musicbrainz.org/release/rel-1",
      small_image: "mp:external/pause",
      small_text: "Paused",
    });
  });

  it("paused without a paused image still says Paused", () => {
    const { assets } = buildActivity(playing({ paused: true }), settings({ links: "none" }), { paused: "" });
    expect(assets).toEqual({ large_text: "OK Computer", small_text: "Paused" });
  });

  it("a template that comes out empty leaves its field out", () => {
    const activity = buildActivity(
      playing({ track: { title: "Song", artist: "A" } }),
      settings({ state: "{albumArtist}", largeText: "{album}", links: "none" }),
      {},
    );
    expect(activity).not.toHaveProperty("state");
    expect(activity).not.toHaveProperty("assets");
    expect(activity.details).toBe("Song");
  });

  it("an empty name falls back to Music and an empty application id is left out", () => {
    const activity = buildActivity(playing(), settings({ name: "{album}", applicationId: "" }), {});
    expect(buildActivity(playing({ track: { title: "S", artist: "A" } }), settings({ name: "{album}" }), {}).name).toBe(
      "Music",
    );
    expect(activity.name).toBe("OK Computer");
    expect(activity).not.toHaveProperty("application_id");
  });

  it("the member list line follows the status display setting", () => {
    const type = (statusDisplay: PresenceSettings["statusDisplay"]) => buildActivity(playing(), settings({ statusDisplay }), {}).status_display_type;
    expect([type("name"), type("state"), type("details")]).toEqual([0, 1, 2]);
  });

  it("a release group link stands in for a missing release", () => {
    const t = { ...track, mbids: { releaseGroup: "rg-1" } };
    const activity = buildActivity(playing({ track: t }), settings(), {});
    expect(activity.assets?.large_url).toBe("https://musicbrainz.org/release-group/rg-1");
    expect(activity).not.toHaveProperty("details_url");
    expect(activity).not.toHaveProperty("state_url");
  });

  it("links none gives no URL at all", () => {
    const json = JSON.stringify(buildActivity(playing(), settings({ links: "none" }), { large: "mp:x" }));
    expect(json).not.toMatch(/_url/);
  });

  it("a link whose mbid makes it longer than 256 chars is dropped", () => {
    const t = { ...track, mbids: { recording: "r".repeat(300), artists: ["a"] } };
    const activity = buildActivity(playing({ track: t }), settings(), {});
    expect(activity).not.toHaveProperty("details_url");
    expect(activity.state_url).toBe("https://musicbrainz.org/artist/a");
  });

  it("an image key over 313 chars is dropped", () => {
    const activity = buildActivity(playing({ paused: true }), settings({ links: "none" }), {
      large: "mp:" + "x".repeat(311),
      paused: "mp:" + "x".repeat(310),
    });
    expect(activity.assets).not.toHaveProperty("large_image");
    expect(activity.assets?.small_image).toHaveLength(313);
  });

  it("a 200-char title is cut to 128 with an ellipsis in details and name", () => {
    const t = { ...track, title: "t".repeat(200) };
    const activity = buildActivity(playing({ track: t }), settings({ name: "{title}" }), {});
    expect(activity.details).toBe("t".repeat(127) + "\u2026");
    expect(activity.name).toBe("t".repeat(127) + "\u2026");
  });
});

describe("lone surrogates", () => {
  /** A UTF-16 half with no other half: what a title cut mid-emoji upstream leaves. */
  const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
  const strings = (value: unknown): string[] =>
    typeof value === "string" ? [value] : typeof value === "object" && value !== null ? Object.values(value).flatMap(strings) : [];
  const broken: Track = {
    title: "\ud83d Pyramid Song",
    artist: "A\udc00B",
    album: "Amnesiac \ud83c",
    albumArtist: "\udfff\ud800",
    durationMs: 200_000,
    mbids: { recording: "rec-\ud800", release: "rel-\udc00", artists: ["art-\ud83d"] },
  };
  const everyField = settings({ name: "{albumArtist}", details: "{title}", state: "{artist}", largeText: "{album}" });

  it("become U+FFFD in name, details, state and large text; a whole pair (an emoji) is kept", () => {
    const activity = buildActivity(playing({ track: { ...broken, artist: "A\udc00B \u{1F3B8}", mbids: {} } }), everyField, {});
    expect(activity.name).toBe("\ufffd\ufffd");
    expect(activity.details).toBe("\ufffd Pyramid Song");
    expect(activity.state).toBe("A\ufffdB \u{1F3B8}");
    expect(activity.assets?.large_text).toBe("Amnesiac \ufffd");
  });

  it("in an mbid become U+FFFD in the link, as URL encoding writes it, instead of throwing", () => {
    const activity = buildActivity(playing({ track: broken }), everyField, {});
    expect(activity.details_url).toBe("https://musicbrainz.org/recording/rec-%EF%BF%BD");
    expect(activity.state_url).toBe("https://musicbrainz.org/artist/art-%EF%BF%BD");
    expect(activity.assets?.large_url).toBe("https://musicbrainz.org/release/rel-%EF%BF%BD");
  });

  it("in a template or an image key become U+FFFD too", () => {
    const templates = settings({ name: "Music \ud83c", details: "{title} \udc00" });
    const activity = buildActivity(playing({ track: { title: "Song", artist: "A" }, paused: true }), templates, {
      large: "mp:external/cover-\ud800",
      paused: "mp:external/pause-\udfff",
    });
    expect(activity.name).toBe("Music \ufffd");
    expect(activity.details).toBe("Song \ufffd");
    expect(activity.assets?.large_image).toBe("mp:external/cover-\ufffd");
    expect(activity.assets?.small_image).toBe("mp:external/pause-\ufffd");
  });

  it("none is left anywhere in the activity, whatever the text and wherever a long one is cut", () => {
    const halves = ["\ud83d", "\ude00", "a", " ", "\u{1F600}", "e\u0301"];
    let seed = 7;
    const pick = () => halves[(seed = (seed * 48_271) % 2_147_483_647) % halves.length]!;
    for (let n = 0; n < 200; n++) {
      const text = () => Array.from({ length: 1 + (n % 150) }, pick).join("");
      const track: Track = { title: text(), artist: text(), album: text(), albumArtist: text(), mbids: { recording: text() } };
      const activity = buildActivity(playing({ track }), everyField, {});
      for (const field of strings(activity)) expect(field).not.toMatch(lone);
    }
  });

  it("are replaced as String.prototype.toWellFormed replaces them", () => {
    // Every text of up to four of these: high and low halves, alone, paired, in either order.
    const units = ["\ud800", "\udbff", "\udc00", "\udfff", "a"];
    let texts = [""];
    for (let length = 1; length <= 4; length++) texts = [...texts, ...texts.filter((t) => t.length === length - 1).flatMap((t) => units.map((u) => t + u))];
    expect(texts).toHaveLength(1 + 5 + 25 + 125 + 625);
    for (const text of texts) expect(wellFormed(text)).toBe((text as unknown as { toWellFormed(): string }).toWellFormed());
  });
});

describe("presencePayload and activityKey", () => {
  it("clear is activities: []", () => {
    expect(presencePayload(null, "dnd")).toEqual({ since: 0, status: "dnd", afk: true, activities: [] });
  });

  it("an activity is sent as the only one", () => {
    const activity = buildActivity(playing(), settings(), {});
    expect(presencePayload(activity, "online").activities).toEqual([activity]);
  });

  it("the same playback gives the same key, a seek gives another", () => {
    const key = (p: Playback) => activityKey(presencePayload(buildActivity(p, settings(), {}), "online"));
    expect(key(playing())).toBe(key(playing()));
    expect(key(playing({ positionMs: 31_000 }))).not.toBe(key(playing()));
  });
});

describe("utf8Length", () => {
  it("counts bytes as TextEncoder does", () => {
    for (const s of ["", "abc", "\u00e9", "\u20ac", "\u{1F600}", "a\u20ac\u{1F600}\u00e9", "\uD800x"]) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
    }
  });
});

describe("fitPresenceFrame", () => {
  const full = () =>
    presencePayload(
      buildActivity(playing({ paused: true }), settings(), { large: "mp:external/cover", paused: "mp:external/p" }),
      "online",
    );

  it("a small frame is returned as is with nothing dropped", () => {
    const payload = full();
    expect(fitPresenceFrame(payload)).toEqual({ payload, dropped: [] });
  });

  it("links go first, one at a time, stopping as soon as the frame fits", () => {
    const payload = full();
    const before = JSON.stringify(payload);
    const urlBytes = (url: string) => utf8Length(`,"details_url":"${url}"`);
    const activity = payload.activities[0]!;
    const maxBytes = frameBytes(payload) - urlBytes(activity.details_url!) - 1;
    const fitted = fitPresenceFrame(payload, maxBytes);
    expect(fitted?.dropped).toEqual(["details_url", "state_url"]);
    expect(fitted?.payload.activities[0]).not.toHaveProperty("state_url");
    expect(fitted?.payload.activities[0]?.assets?.large_url).toBe("https://musicbrainz.org/release/rel-1");
    expect(frameBytes(fitted!.payload)).toBeLessThanOrEqual(maxBytes);
    expect(JSON.stringify(payload)).toBe(before); // input untouched
  });

  it("long texts are shortened to 64 then 32 after the links and the paused image are gone", () => {
    const long = { ...track, title: "T".repeat(128), artist: "A".repeat(128), album: "B".repeat(128) };
    const payload = presencePayload(
      buildActivity(playing({ track: long, paused: true }), settings(), { paused: "mp:p" }),
      "online",
    );
    const fitted = fitPresenceFrame(payload, 350);
    expect(fitted?.dropped).toEqual([
      "details_url",
      "state_url",
      "assets.large_url",
      "assets.small_image",
      "assets.small_text",
      "details",
      "state",
      "assets.large_text",
    ]);
    const activity = fitted!.payload.activities[0]!;
    expect(activity.details).toBe("T".repeat(31) + "\u2026");
    expect(activity.assets).toEqual({ large_text: "B".repeat(31) + "\u2026" });
    expect(frameBytes(fitted!.payload)).toBeLessThanOrEqual(350);
  });

  it("a frame that cannot be made small enough is refused", () => {
    expect(fitPresenceFrame(full(), 100)).toBeNull();
  });

  it("a frame of maximal fields fits in 4096 bytes or is refused", () => {
    const emoji = "\u{1F3B6}".repeat(500); // 4 bytes each in UTF-8
    const mbid = (c: string) => c.repeat(210); // URLs of 240-250 chars
    const maximal: Track = {
      title: emoji,
      artist: emoji,
      album: emoji,
      albumArtist: emoji,
      durationMs: 200_000,
      mbids: { recording: mbid("r"), release: mbid("l"), artists: [mbid("a")] },
    };
    const activity = buildActivity(
      playing({ track: maximal, paused: true }),
      settings({ name: "{title}", details: "{artist}", state: "{album}", largeText: "{albumArtist}" }),
      { large: "mp:external/" + "x".repeat(300), paused: "mp:external/" + "y".repeat(300) },
    );
    expect([activity.details_url, activity.state_url, activity.assets?.large_url].map((u) => u?.length)).toEqual([
      244,
      241,
      242,
    ]);
    const fitted = fitPresenceFrame(presencePayload(activity, "online"));
    // 128-unit texts of 4-byte emoji are 255 bytes each: with every link and image the frame still fits
    expect(fitted).not.toBeNull();
    expect(fitted!.dropped).toEqual([]);
    expect(frameBytes(fitted!.payload)).toBeLessThanOrEqual(4096);
    expect(new TextEncoder().encode(JSON.stringify({ op: 3, d: fitted!.payload })).length).toBeLessThanOrEqual(4096);
  });

  it("control characters, escaped six bytes each by JSON, push a frame over and the links go", () => {
    const ctl = "\u0001".repeat(500);
    const t: Track = { ...track, title: ctl, artist: ctl, album: ctl, albumArtist: ctl };
    t.mbids = { recording: "r".repeat(210), release: "l".repeat(210), artists: ["a".repeat(210)] };
    const activity = buildActivity(playing({ track: t }), settings({ name: "{title}", largeText: "{albumArtist}" }), {
      large: "mp:external/" + "x".repeat(300),
    });
    const payload = presencePayload(activity, "online");
    expect(frameBytes(payload)).toBeGreaterThan(4096);
    const fitted = fitPresenceFrame(payload);
    // four 128-char texts of \u0001 are 765 bytes each once escaped: two links must go, the third stays
    expect(fitted?.dropped).toEqual(["details_url", "state_url"]);
    expect(fitted?.payload.activities[0]?.assets?.large_url).toBe("https://musicbrainz.org/release/" + "l".repeat(210));
    expect(frameBytes(fitted!.payload)).toBeLessThanOrEqual(4096);
  });
});
