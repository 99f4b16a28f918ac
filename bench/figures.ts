/**
 * One measured figure: nd-presence's value and the raw baseline's, measured in the same run so the
 * ratio holds on a noisy machine. `better` says which way is good; `target` is the goal from the
 * benchmarks issue, checked on nd-presence's value (or on the ratio when `targetOn` is "ratio").
 */
import type { AccountTraffic } from "./network/account/traffic.ts";

export interface Figure {
  scenario: string;
  metric: string;
  unit: string;
  users?: number;
  ndPresence: number;
  raw: number | null;
  better: "lower" | "higher";
  target?: { op: "<=" | ">=" | "<"; value: number; on?: "value" | "ratio" };
  /** What the fake gateway sent each socket, for a figure measured against it (kept in the results file). */
  account?: AccountTraffic;
}

export interface BenchOptions {
  /** User counts for the scaled scenarios, e.g. [1000, 10000]. */
  users: number[];
  /** Shorter measurement windows (for a smoke run). */
  quick: boolean;
  /** What the fake gateway sends each socket: `--dispatch-rate`, `--ready-bytes`. */
  account: AccountTraffic;
  log(line: string): void;
}

export type Scenario = (options: BenchOptions) => Promise<Figure[]>;

/**
 * nd-presence / raw, or null unless both are positive: a per-user RSS can come out at or below
 * zero when a process hands back more pages than its users took, and a ratio of that would be
 * meaningless (a negative one would even pass a "<=" target).
 */
export function ratio(figure: Figure): number | null {
  return figure.raw === null || figure.raw <= 0 || figure.ndPresence <= 0 ? null : figure.ndPresence / figure.raw;
}

export function meetsTarget(figure: Figure): boolean | null {
  if (!figure.target) return null;
  const value = figure.target.on === "ratio" ? ratio(figure) : figure.ndPresence;
  if (value === null) return null;
  const { op, value: bound } = figure.target;
  return op === "<=" ? value <= bound : op === "<" ? value < bound : value >= bound;
}

/** The header of a figures table; `figureCells` gives a row. */
export const TABLE_HEADER = ["scenario", "figure", "users", "nd-presence", "raw", "ratio", "target", "met"];

/**
 * A figure as the cells of a table row (see `TABLE_HEADER`). `grouped` writes thousands with
 * separators (the README's table); the terminal's keeps plain digits.
 */
export function figureCells(f: Figure, grouped = false): string[] {
  const whole = (n: number) => (grouped ? Math.round(n).toLocaleString("en-US") : n.toFixed(0));
  const value = (n: number | null | undefined) =>
    n === null || n === undefined || Number.isNaN(n) ? "-" : Math.abs(n) >= 100 ? whole(n) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
  const count = (n: number) => (grouped ? n.toLocaleString("en-US") : String(n));
  const target = f.target ? `${f.target.on === "ratio" ? "ratio " : ""}${f.target.op} ${count(f.target.value)}` : "";
  const met = meetsTarget(f);
  return [
    f.scenario,
    `${f.metric} (${f.unit})`,
    f.users ? count(f.users) : "",
    value(f.ndPresence),
    value(f.raw),
    value(ratio(f)),
    target,
    met === null ? "" : met ? "yes" : "no",
  ];
}

/** Median of a few runs: one slow run (a disk flush, a GC) should not decide the figure. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
