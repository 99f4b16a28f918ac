/**
 * The raw baseline: a minimal imperative Discord gateway client over `ws`, doing the same protocol
 * work as nd-presence for N users (docs/protocol.md section 1): connect with `?v=10&encoding=json`,
 * identify on Hello, heartbeat every interval (the first beat after interval x random), track the
 * seq, and send a presence update (op 3) once READY. No actors, no journal, no rate windows, no
 * reconnects: what a careful engineer would write as the least that works. It is the yardstick.
 *
 * It parses every frame in full (JSON.parse), dispatches and a large READY included, and takes `s`
 * from each: the careful way, and what a client that peeks at `op`, `t` and `s` is measured against.
 */
import WebSocket from "ws";
import type { Activity } from "../../src/actors/effects.ts";

interface Connection {
  ws: WebSocket;
  seq: number | null;
  ready: boolean;
  /** What a resume would need, from READY. */
  sessionId: string | null;
  resumeUrl: string | null;
  /** The activity to send once READY (the latest asked for wins). */
  pending: Activity | null;
  timer: NodeJS.Timeout | null;
}

const PROPERTIES = { os: "Linux", browser: "Discord Client", device: "", system_locale: "en-US" };

export class RawClient {
  readonly #connections = new Map<string, Connection>();

  constructor(private readonly options: { url: string; userAgent: string; tokenFor(user: string): string }) {}

  /** Shows `activity` for `user`, connecting first if needed; sent as soon as the session is READY. */
  present(user: string, activity: Activity): void {
    const conn = this.#connections.get(user) ?? this.#connect(user);
    if (conn.ready) this.#sendPresence(conn, activity);
    else conn.pending = activity;
  }

  /** Clears every READY user's presence (op 3, no activity) and closes every socket with 1000. */
  async clearAll(): Promise<void> {
    const closing = [...this.#connections.values()].map((conn) => {
      if (conn.ready) this.#sendPresence(conn, null);
      if (conn.timer) clearTimeout(conn.timer);
      return new Promise<void>((resolve) => {
        if (conn.ws.readyState === WebSocket.CLOSED) return resolve();
        conn.ws.once("close", () => resolve());
        conn.ws.close(1000);
      });
    });
    await Promise.all(closing);
  }

  #connect(user: string): Connection {
    const ws = new WebSocket(`${this.options.url}/?v=10&encoding=json`, { headers: { "User-Agent": this.options.userAgent }, perMessageDeflate: false });
    const conn: Connection = { ws, seq: null, ready: false, sessionId: null, resumeUrl: null, pending: null, timer: null };
    this.#connections.set(user, conn);
    ws.on("message", (data) => this.#onMessage(user, conn, data.toString()));
    ws.on("error", () => {}); // 'close' follows
    ws.on("close", () => {
      if (conn.timer) clearTimeout(conn.timer); // clears an interval too
      conn.ready = false;
    });
    return conn;
  }

  #onMessage(user: string, conn: Connection, text: string): void {
    // A careful raw client's frame: `d` is read by opcode below, as a client without types would.
    // deno-lint-ignore no-explicit-any
    const frame = JSON.parse(text) as { op: number; d: any; s?: number | null; t?: string };
    if (frame.s != null) conn.seq = frame.s;
    switch (frame.op) {
      case 10: {
        const interval = frame.d.heartbeat_interval as number;
        const beat = () => conn.ws.send(JSON.stringify({ op: 1, d: conn.seq }));
        conn.timer = setTimeout(() => {
          beat();
          conn.timer = setInterval(beat, interval);
        }, interval * Math.random());
        const presence = { status: "unknown", since: 0, activities: [], afk: true };
        const d = {
          token: this.options.tokenFor(user),
          capabilities: 0,
          properties: PROPERTIES,
          presence,
          compress: false,
          client_state: { guild_versions: {} },
        };
        conn.ws.send(JSON.stringify({ op: 2, d }));
        return;
      }
      case 0:
        // Any other dispatch (a friend's presence, a message) needs nothing beyond its `s`, taken above.
        if (frame.t === "READY") {
          conn.ready = true;
          conn.sessionId = frame.d.session_id;
          conn.resumeUrl = frame.d.resume_gateway_url;
          if (conn.pending) this.#sendPresence(conn, conn.pending);
          conn.pending = null;
        }
        return;
      case 1: // the server asks for a beat now
        conn.ws.send(JSON.stringify({ op: 1, d: conn.seq }));
        return;
      default:
        return; // 11 (ACK) and the rest need nothing here
    }
  }

  /** Op 3 with the activity, or with none (a clear). */
  #sendPresence(conn: Connection, activity: Activity | null): void {
    conn.ws.send(JSON.stringify({ op: 3, d: { since: 0, status: "online", afk: true, activities: activity ? [activity] : [] } }));
  }
}
