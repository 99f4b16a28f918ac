/**
 * Sums a .cpuprofile's self time per function (name, file, line) and prints the top ones with
 * their share, plus the total per file. `TOP=30 tsx bench/journal/profile-summary.ts <dir>/*.cpuprofile`:
 * `--import tsx` writes a second, small profile for its loader thread, so of several files the
 * largest (the main thread's) is read.
 */
import { readFileSync, statSync } from "node:fs";
import { sourceLines } from "./source-lines.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv.slice(2).sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (!file) throw new Error("usage: profile-summary.ts <file.cpuprofile>...");
const top = Number(process.env.TOP ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

// Named functions per script, to pick the cached transform of the right version of each file.
const named = new Map<string, Array<[string, number]>>();
for (const { callFrame: f } of profile.nodes) {
  if (f.functionName && f.lineNumber === 0 && f.functionName !== "__name") named.set(f.url, [...(named.get(f.url) ?? []), [f.functionName, f.columnNumber]]);
}
const lineOf = sourceLines();
const perFunction = new Map<string, number>();
const perFile = new Map<string, number>();
function whereOf(url: string): string {
  return url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, "$1/") || "(native)";
}
/** `name file:line`; cpuprofile lines are 0-based, and a .ts file transformed by tsx is all on line 0. */
function nodeKey(id: number): string {
  const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
  const line = lineNumber === 0 && url.endsWith(".ts") ? (lineOf(url, columnNumber, named.get(url) ?? []) ?? `?col${columnNumber}`) : lineNumber + 1;
  return `${functionName || "(anonymous)"} ${whereOf(url)}:${line}`;
}
for (const [id, us] of selfUs) {
  const where = whereOf(byId.get(id)!.callFrame.url);
  const key = nodeKey(id);
  perFunction.set(key, (perFunction.get(key) ?? 0) + us);
  perFile.set(where, (perFile.get(where) ?? 0) + us);
}
// Inclusive time: each sample counts once for every distinct function on its stack.
const parentOf = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
const keyOf = new Map<number, string>();
const inclusive = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const key = keyOf.get(at) ?? nodeKey(at);
    keyOf.set(at, key);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
});
const show = (map: Map<string, number>, n: number) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([key, us]) =>
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`)
  );
console.log(`total ${(total / 1000).toFixed(0)} ms\n-- self time per function`);
show(perFunction, top);
console.log("-- inclusive time per function (callers included)");
show(inclusive, top);
console.log("-- self time per file");
show(perFile, 15);
