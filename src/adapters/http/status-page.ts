import type { Activity } from "../../actors/effects.ts";
import type { ServiceStatus, UserStatusReport } from "../../service/status.ts";
import type { SourceStatus } from "./metrics.ts";
import { trackTime } from "../track-time.ts";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

type Tone = "ok" | "idle" | "warn" | "bad";

/** The badge colour of a machine state: green when showing, amber while (re)connecting, red when failed. */
function toneOf(state: string): Tone {
  const top = state.split(".")[0]!;
  if (top === "presenting" || top === "ready") return "ok";
  if (top === "failed") return "bad";
  if (["connecting", "identifying", "resuming", "backoff", "stopping"].includes(top)) return "warn";
  return "idle";
}

/** Where in the track Discord's progress bar is, from the activity's timestamps (ms). */
function progress(activity: Activity, now: number): string {
  const { start, end } = activity.timestamps ?? {};
  if (start !== undefined && end !== undefined && end > start) {
    const percent = Math.min(100, Math.max(0, ((now - start) / (end - start)) * 100));
    return `<div class="bar" role="presentation"><span style="width:${percent.toFixed(1)}%"></span></div>
      <p class="muted">${escapeHtml(trackTime(Math.min(now, end) - start))} / ${escapeHtml(trackTime(end - start))}</p>`;
  }
  if (start !== undefined) return `<p class="muted">playing for ${escapeHtml(trackTime(now - start))}</p>`;
  return `<p class="muted">no progress shown (paused or unknown length)</p>`;
}

/** What Discord shows; a presence sent a moment ago, which the server may still refuse, says so. */
function showing(user: UserStatusReport, now: number): string {
  const activity = user.showing ?? user.sending;
  if (!activity) return `<div class="showing empty">Nothing shown on Discord</div>`;
  const line = (cls: string, value: string | undefined) => (value ? `<p class="${cls}">${escapeHtml(value)}</p>` : "");
  return `<div class="showing">
      <p class="label">${user.showing ? "" : "Sending: "}Listening to ${escapeHtml(activity.name)}</p>
      ${line("details", activity.details)}${line("state", activity.state)}${line("muted", activity.assets?.large_text)}
      ${progress(activity, now)}
    </div>`;
}

function userCard(user: UserStatusReport, now: number): string {
  const problem = (label: string, value: string | null) => value ? `<p class="problem"><strong>${escapeHtml(label)}:</strong> ${escapeHtml(value)}</p>` : "";
  // A failure usually quotes the last error; saying it twice is noise.
  const repeated = user.lastError !== null && user.failure !== null && user.failure.includes(user.lastError);
  return `<article class="card">
    <header><h3>${escapeHtml(user.user)}</h3><span class="badge ${toneOf(user.state)}">${escapeHtml(user.state)}</span></header>
    <dl>
      <dt>Connected</dt><dd class="${user.connected ? "yes" : "no"}">${user.connected ? "yes" : "no"}</dd>
      <dt>Presence updates</dt><dd>${escapeHtml(user.presenceUpdates)}</dd>
      ${user.presenceRefused > 0 ? `<dt>Refused by the server</dt><dd class="no">${escapeHtml(user.presenceRefused)}</dd>` : ""}
      <dt>Reconnects</dt><dd>${escapeHtml(user.reconnects)}</dd>
      <dt>Heartbeat round trip</dt><dd>${user.heartbeatRoundTripMs === null ? "–" : `${escapeHtml(user.heartbeatRoundTripMs)} ms`}</dd>
      <dt>Zombie closes</dt><dd>${escapeHtml(user.zombieCloses)}</dd>
    </dl>
    ${showing(user, now)}
    ${problem("Failure", user.failure)}
    ${repeated ? "" : problem("Last error", user.lastError)}
  </article>`;
}

function sourceCard(source: SourceStatus): string {
  // Any numeric field is a counter worth showing (polls, listens, forwarded, ...).
  const counters = Object.entries(source)
    .filter(([, value]) => typeof value === "number")
    .map(([key, value]) => `<dt>${escapeHtml(key.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase())}</dt><dd>${escapeHtml(value)}</dd>`)
    .join("");
  return `<article class="card">
    <header><h3>${escapeHtml(source.name)}</h3><span class="badge ${source.ok ? "ok" : "bad"}">${source.ok ? "healthy" : "failing"}</span></header>
    ${counters ? `<dl>${counters}</dl>` : ""}
    ${source.lastError ? `<p class="problem"><strong>Last error:</strong> ${escapeHtml(source.lastError)}</p>` : ""}
  </article>`;
}

/** A banner while the journal cannot be written: what is not written is lost to a restart. */
function journalProblem(status: ServiceStatus): string {
  if (status.journal.writable) return "";
  const why = status.journal.lastError ? ` (${status.journal.lastError})` : "";
  return `<p class="problem"><strong>Journal:</strong> cannot be written${
    escapeHtml(why)
  }; presences go on, but a restart now would lose what was not written. Free disk space or fix the data folder's permissions.</p>`;
}

// Inline and script-free, so that the page works offline, behind any proxy, and under a strict CSP.
const css = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1d2027;--muted:#646b78;--line:#dde0e6;
--ok:#1f8a4c;--idle:#5b6473;--warn:#b26a00;--bad:#c62828;--accent:#5865f2}
@media (prefers-color-scheme:dark){:root{--bg:#16181d;--card:#20232a;--text:#e8eaee;--muted:#9aa1ad;--line:#343843}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--text)}
.top,main,footer{max-width:1100px;margin:0 auto;padding:0 16px}
.top{padding-top:20px}
h1{font-size:1.5rem;margin:0}
h2{font-size:1.05rem;margin:24px 0 10px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
h3{font-size:1.15rem;margin:0;overflow-wrap:anywhere}
.summary{margin:4px 0 0;color:var(--muted)}
.grid{display:grid;gap:14px;grid-template-columns:repeat(auto-fill,minmax(min(100%,290px),1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px;box-shadow:0 1px 3px rgba(0,0,0,.06)}
.card header{display:flex;justify-content:space-between;align-items:center;gap:8px;margin-bottom:10px}
.badge{color:#fff;font-size:.8rem;font-weight:600;padding:3px 10px;border-radius:999px;white-space:nowrap}
.badge.ok{background:var(--ok)}.badge.idle{background:var(--idle)}.badge.warn{background:var(--warn)}.badge.bad{background:var(--bad)}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0 0 10px}
dt{color:var(--muted)}dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
dd.yes{color:var(--ok);font-weight:600}dd.no{color:var(--muted)}
.showing{border-left:4px solid var(--accent);padding:8px 12px;background:rgba(88,101,242,.08);border-radius:0 8px 8px 0}
.showing.empty{color:var(--muted);border-left-color:var(--line);background:none}
.showing p{margin:0;overflow-wrap:anywhere}
.showing .label{font-size:.75rem;font-weight:700;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.showing .details{font-weight:700;font-size:1.05rem}
.muted{color:var(--muted);font-size:.9rem}
.bar{height:6px;background:var(--line);border-radius:3px;margin:8px 0 2px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--accent)}
.problem{margin:10px 0 0;padding:8px 10px;border-radius:8px;background:rgba(198,40,40,.1);color:var(--bad);overflow-wrap:anywhere}
.none{color:var(--muted)}
footer{color:var(--muted);font-size:.85rem;padding:24px 16px 32px}
footer a{color:inherit}
`;

/**
 * The status page (`GET /`): one card per user (state, connection, what Discord shows, errors) and
 * one per source. Self-contained HTML: inline CSS, no script, no external asset; refreshes itself
 * every 5 s. Every value is escaped. `now` (ms) places the progress bar, so tests can fix it.
 */
export function renderStatusPage(status: ServiceStatus, sources: SourceStatus[], now: number): string {
  const presenting = status.users.filter((u) => u.state.startsWith("presenting")).length;
  const summary = `${status.users.length} user${status.users.length === 1 ? "" : "s"} · ${presenting} presenting · service ${
    status.running ? "running" : "stopped"
  }`;
  const users = status.users.map((user) => userCard(user, now)).join("\n");
  const sourceCards = sources.map(sourceCard).join("\n");
  const stamp = new Date(now).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>nd-presence status</title>
<style>${css}</style>
</head>
<body>
<div class="top"><h1>nd-presence</h1><p class="summary">${escapeHtml(summary)}</p>${journalProblem(status)}</div>
<main>
<h2>Users</h2>
<div class="grid">${users || `<p class="none">No users configured.</p>`}</div>
<h2>Sources</h2>
<div class="grid">${sourceCards || `<p class="none">No now-playing source is running.</p>`}</div>
</main>
<footer>Rendered ${escapeHtml(stamp)} · refreshes every 5 s ·
<a href="/status">/status</a> · <a href="/healthz">/healthz</a> · <a href="/metrics">/metrics</a></footer>
</body>
</html>
`;
}
