/**
 * Sums a sampling heap profile (`.heapprofile`, from profile.ts --heap) per allocating function:
 * the bytes still live when sampling stopped, by the function (name, file, .ts line) that
 * allocated them, self and with callees. `TOP=30 tsx bench/network/heap-summary.ts <file>`.
 */
import { readFileSync } from "node:fs";
import { sourceLines } from "../journal/source-lines.ts";

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const file = process.argv[2];
if (!file) throw new Error("usage: heap-summary.ts <file.heapprofile>");
const top = Number(process.env.TOP ?? 30);
const { head } = JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode };

const nodes: HeapNode[] = [];
(function collect(node: HeapNode) {
  nodes.push(node);
  node.children.forEach(collect);
})(head);
// Named functions per script, so that source-lines can pick the cached transform of each file.
const named = new Map<string, Array<[string, number]>>();
for (const { callFrame: f } of nodes) {
  if (f.functionName && f.lineNumber === 0 && f.functionName !== "__name") named.set(f.url, [...(named.get(f.url) ?? []), [f.functionName, f.columnNumber]]);
}
const lineOf = sourceLines();
const keyOf = ({ functionName, url, lineNumber, columnNumber }: HeapNode["callFrame"]) => {
  const line = lineNumber === 0 && url.endsWith(".ts") ? (lineOf(url, columnNumber, named.get(url) ?? []) ?? `?col${columnNumber}`) : lineNumber + 1;
  return `${functionName || "(anonymous)"} ${url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, "$1/") || "(native)"}:${line}`;
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
(function walk(node: HeapNode, stack: string[]) {
  const key = keyOf(node.callFrame);
  self.set(key, (self.get(key) ?? 0) + node.selfSize);
  total += node.selfSize;
  const path = stack.includes(key) ? stack : [...stack, key];
  // Each byte counts once for every distinct function on the stack that allocated it.
  for (const k of path) inclusive.set(k, (inclusive.get(k) ?? 0) + node.selfSize);
  node.children.forEach((child) => walk(child, path));
})(head, []);

const show = (map: Map<string, number>) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([key, bytes]) =>
    console.log(`${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${(bytes / 1024).toFixed(0).padStart(8)} KiB  ${key}`)
  );
console.log(`live ${(total / 2 ** 20).toFixed(1)} MiB\n-- allocated by (self)`);
show(self);
console.log("-- allocated under (callees included)");
show(inclusive);
