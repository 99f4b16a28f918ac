import type { ServiceStatus } from "../../service/status.ts";

/**
 * What every now-playing source reports about itself (the ListenBrainz receiver's `status()`, the
 * Subsonic poller's, ...). Beyond `name`, `ok` and `lastError`, a source may carry any counters;
 * the metrics read these common ones when they are numbers:
 * - `polls` (a poller's requests), `listens` and `nowPlaying` (a receiver's accepted submissions):
 *   summed into `nd_presence_source_polls_total`, i.e. "inputs received from the source";
 * - `errors`: `nd_presence_source_errors_total`.
 */
export type SourceStatus = { name: string; ok: boolean; lastError: string | null; [counter: string]: unknown };

export interface MetricsInput {
  status: ServiceStatus;
  sources: SourceStatus[];
  /** The journal file's size; the metric is left out when this is missing or null. */
  journalBytes?: number | null;
  /** Inputs journaled since the last checkpoint; left out when missing or null. */
  entriesSinceCheckpoint?: number | null;
}

type Labels = Record<string, string>;
type Family = { name: string; type: "gauge" | "counter"; help: string; samples: Array<[Labels, number]> };

/** Per the text format 0.0.4: backslash, double quote and line feed are escaped in label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** In HELP text only backslash and line feed are escaped. */
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);

function render(family: Family): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  for (const [labels, value] of family.samples) {
    const pairs = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabelValue(v)}"`);
    lines.push(`${family.name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${value}`);
  }
  return lines.join("\n");
}

/**
 * Renders the service's metrics in the Prometheus text exposition format 0.0.4 (serve it as
 * `text/plain; version=0.0.4`). Counters come from the machines' own counters, so they restart at
 * zero with the service, as Prometheus expects of counters. Contains no secret: only user and
 * source names, which are configuration, not credentials.
 *
 * Our own, not prom-client: the values are read from `status()` at scrape time (nothing to keep
 * in a registry beside the machines), and the text format is a few lines, where prom-client would
 * bring a registry, default collectors and a dependency for them.
 *
 * @example
 * res.end(renderMetrics({ status: service.status(), sources: [receiver.status()] }));
 */
export function renderMetrics(input: MetricsInput): string {
  const { status, sources } = input;
  const perState = new Map<string, number>();
  for (const user of status.users) perState.set(user.state, (perState.get(user.state) ?? 0) + 1);
  const perUser = (value: (user: ServiceStatus["users"][number]) => number): Array<[Labels, number]> =>
    status.users.map((user) => [{ user: user.user }, value(user)]);
  const perSource = (value: (source: SourceStatus) => number): Array<[Labels, number]> => sources.map((source) => [{ source: source.name }, value(source)]);

  const families: Family[] = [
    {
      name: "nd_presence_users",
      type: "gauge",
      help: "Configured users by presence machine state.",
      samples: [...perState].map(([state, n]) => [{ state }, n]),
    },
    { name: "nd_presence_user_connected", type: "gauge", help: "1 when the user's gateway session is READY.", samples: perUser((u) => (u.connected ? 1 : 0)) },
    { name: "nd_presence_reconnects_total", type: "counter", help: "Gateway reconnects per user.", samples: perUser((u) => u.reconnects) },
    {
      name: "nd_presence_presence_updates_total",
      type: "counter",
      help: "Presence updates (op 3) the server kept, per user.",
      samples: perUser((u) => u.presenceUpdates),
    },
    {
      name: "nd_presence_presence_refused_total",
      type: "counter",
      help: "Presence updates the server refused (close 4002 right after), per user.",
      samples: perUser((u) => u.presenceRefused),
    },
    {
      name: "nd_presence_heartbeat_round_trip_seconds",
      type: "gauge",
      help: "Round trip of the last answered gateway heartbeat per user (users with none yet are left out).",
      samples: status.users.filter((u) => u.heartbeatRoundTripMs !== null).map((u) => [{ user: u.user }, u.heartbeatRoundTripMs! / 1000]),
    },
    {
      name: "nd_presence_zombie_closes_total",
      type: "counter",
      help: "Gateway connections closed as zombies (no heartbeat ACK) per user.",
      samples: perUser((u) => u.zombieCloses),
    },
    {
      name: "nd_presence_refused_events_total",
      type: "counter",
      help: "Events refused because their user is not configured.",
      samples: Object.entries(status.refusedEvents).map(([user, n]) => [{ user }, n]),
    },
    {
      name: "nd_presence_journal_writable",
      type: "gauge",
      help: "1 when the last journal write went through.",
      samples: [[{}, status.journal.writable ? 1 : 0]],
    },
    {
      name: "nd_presence_journal_write_failures_total",
      type: "counter",
      help: "Journal writes (appends, checkpoints) that failed.",
      samples: [[{}, status.journal.failures]],
    },
    { name: "nd_presence_source_up", type: "gauge", help: "1 when the now-playing source is healthy.", samples: perSource((s) => (s.ok ? 1 : 0)) },
    {
      name: "nd_presence_source_polls_total",
      type: "counter",
      help: "Inputs received from the source: polls, or listens and playing_now submissions.",
      samples: perSource((s) => num(s.polls) + num(s.listens) + num(s.nowPlaying)),
    },
    { name: "nd_presence_source_errors_total", type: "counter", help: "Errors of the source.", samples: perSource((s) => num(s.errors)) },
  ];
  if (typeof input.journalBytes === "number") {
    families.push({ name: "nd_presence_journal_bytes", type: "gauge", help: "Size of the event journal in bytes.", samples: [[{}, input.journalBytes]] });
  }
  if (typeof input.entriesSinceCheckpoint === "number") {
    const help = "Inputs journaled since the last checkpoint: what a restart would replay.";
    families.push({ name: "nd_presence_journal_entries_since_checkpoint", type: "gauge", help, samples: [[{}, input.entriesSinceCheckpoint]] });
  }
  // The format requires a final line feed.
  return `${families.map(render).join("\n")}\n`;
}
