import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { initialContext } from "../src/actors/presence-context.ts";
import { type ServiceConfig, userProfiles } from "../src/config/service-config.ts";

// docs/architecture.md: the machines are pure, so that a journal replays exactly. A file in src/actors may
// import only xstate and its neighbours, and may not read the clock, draw randomness or set timers.
const dir = new URL("../src/actors/", import.meta.url);
const files = readdirSync(dir).filter((name) => name.endsWith(".ts"));
const forbidden: Array<[RegExp, string]> = [
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, "reads the clock"],
  [/\bMath\.random\b|\bcrypto\./, "draws randomness outside the seeded generator"],
  [/\bset(Timeout|Interval|Immediate)\b|\bqueueMicrotask\b/, "sets a timer (use a named XState delay)"],
  [/\bfetch\(|\bprocess\.|\bDeno\./, "does I/O or reads the environment"],
];

describe("src/actors is pure", () => {
  it.each(files)("%s imports nothing but xstate and src/actors", (name) => {
    const source = readFileSync(new URL(name, dir), "utf8");
    const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const specifier of imports) expect(specifier === "xstate" || /^\.\/[\w-]+\.ts$/.test(specifier), `${name} imports ${specifier}`).toBe(true);
  });

  it.each(files)("%s neither reads the clock, draws randomness, sets timers nor does I/O", (name) => {
    const code = readFileSync(new URL(name, dir), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    for (const [pattern, what] of forbidden) expect(pattern.test(code), `${name} ${what}`).toBe(false);
  });
});

describe("the presence context stays cheap to copy", () => {
  it("has at most 16 top-level keys: XState copies it on every assign, and V8 makes a copy of 20 or more a slow object", () => {
    const [profile] = userProfiles({ discord: { applicationId: "1" }, users: [{ username: "alice", discordToken: "t" }] } as ServiceConfig);
    const context = initialContext({ ...profile!, seed: 1 });
    expect(Object.keys(context).length).toBeLessThanOrEqual(16);
  });
});
