/**
 * What a V8 heap snapshot is made of, grouped by node type and name, largest self size first:
 *
 *   TOP=30 USERS=1000 npx tsx bench/network/heap-snapshot-summary.ts /tmp/p/presenting.heapsnapshot
 *
 * With USERS, each group's bytes and count are also shown per user.
 */
import { readFileSync } from "node:fs";

const path = process.argv[2];
if (!path) throw new Error("usage: heap-snapshot-summary.ts <file>.heapsnapshot");
const top = Number(process.env.TOP ?? 30);
const users = Number(process.env.USERS ?? 0);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}
const { snapshot, nodes, strings } = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
const fields = snapshot.meta.node_fields;
const width = fields.length;
const typeAt = fields.indexOf("type");
const nameAt = fields.indexOf("name");
const sizeAt = fields.indexOf("self_size");
const typeNames = snapshot.meta.node_types[0];

const groups = new Map<string, { bytes: number; count: number }>();
let total = 0;
for (let i = 0; i < nodes.length; i += width) {
  const type = typeNames[nodes[i + typeAt]!]!;
  const raw = strings[nodes[i + nameAt]!]!;
  // Strings and closures are named by content: group them by type (closures by function name).
  const name = type === "string" || type === "concatenated string" || type === "sliced string" ? "" : raw.slice(0, 60);
  const key = `${type} ${name}`;
  const size = nodes[i + sizeAt]!;
  total += size;
  const group = groups.get(key) ?? { bytes: 0, count: 0 };
  group.bytes += size;
  group.count += 1;
  groups.set(key, group);
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);
console.log(`total ${kib(total)} KiB${users ? `, ${kib(total / users)} KiB per user` : ""}`);
for (const [key, { bytes, count }] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) {
  const perUser = users ? `  ${(bytes / users).toFixed(0).padStart(6)} B/user ${(count / users).toFixed(2).padStart(7)}/user` : "";
  console.log(`${kib(bytes).padStart(10)} KiB ${String(count).padStart(8)}${perUser}  ${key}`);
}
