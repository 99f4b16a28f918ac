/**
 * A lean fake Discord gateway (docs/protocol.md section 1) for the network benchmarks, run as its own
 * process (`startGateway` forks it) so that its CPU never counts against the side being measured.
 *
 * It speaks just enough of the protocol: Hello with a configurable interval, READY for an identify
 * (the user is taken from the token `bench-<user>`), RESUMED for a resume, an ACK for every
 * heartbeat. It counts op 1 and op 3 and, for the latency figure, reads the send time `t=<epoch ms>`
 * the client put in the activity's `state` and keeps `receivedAt - t`.
 *
 * And it models a real user account (`AccountTraffic`): READY is large and shaped like Discord's
 * (account/ready-frame.ts), and every READY socket then receives dispatches at a set rate
 * (account/dispatch-pump.ts: friends' presences, typing, messages, some written `d` first), with
 * `s` counting up per connection.
 *
 * It must hold 10,000+ connections next to a busy client on a 2-core machine, so it records nothing
 * per frame but counters, keeps one small object per connection, builds every frame's text ahead,
 * sends dispatches from one timer, and never logs per frame. The test fake (test/fakes/gateway.ts)
 * records every frame and is far too slow for this.
 */
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { seedFrom } from "../../src/actors/random.ts";
import { DispatchPump, type DispatchTarget } from "./account/dispatch-pump.ts";
import { type ReadyFrame, readyFrame } from "./account/ready-frame.ts";
import type { AccountTraffic } from "./account/traffic.ts";
import { Child, epochNow, serve } from "./ipc.ts";

/** What `stats` returns. `latencyMs` holds the samples since the previous `stats` (then cleared). */
export interface GatewayStats {
  /** Connections open now that identified (or resumed). */
  identified: number;
  /** Since the last reset. */
  op1: number;
  op3: number;
  /** Users with at least one op 3 since the last reset. */
  presentedUsers: number;
  /** Connections closed since the last reset (a healthy run has none until the end). */
  closed: number;
  /** Of those, closed with 1000 (what a client that let its session go sends). */
  closedNormally: number;
  /** Op 3 frames with no activity (presences cleared) since the last reset. */
  cleared: number;
  /** Dispatches sent (account traffic, READY and RESUMED not counted) since the last reset. */
  dispatches: number;
  latencyMs: number[];
}

const ACK = JSON.stringify({ op: 11, d: null });

/** A Discord-looking user id (18-19 digits) for a bench user, the same on every connection. */
function userIdOf(user: string): string {
  return String(100_000_000_000_000_000n + BigInt(seedFrom(user, 0) >>> 0) * 1_000_000n);
}

function runGateway(): void {
  let server: WebSocketServer | null = null;
  let url = "";
  let sessions = 0;
  let identified = 0;
  let op1 = 0;
  let op3 = 0;
  let closed = 0;
  let closedNormally = 0;
  let cleared = 0;
  const presented = new Set<string>();
  let samples: number[] = [];
  /** `waitPresented`: resolves once `presented` holds `count` users, with the time it happened. */
  let target: { count: number; resolve(at: number): void } | null = null;
  // Both set by `listen`, before any connection.
  let ready: ReadyFrame = () => "";
  let pump = new DispatchPump(0);

  /** A connection's whole state: the user once identified, its `s`, its place in the pump. */
  function onConnection(ws: WebSocket, hello: string): void {
    let user: string | null = null;
    const conn: DispatchTarget = { ws, seq: 0, slot: -1 };
    ws.on("error", () => {}); // 'close' follows
    ws.on("close", (code) => {
      closed += 1;
      if (code === 1000) closedNormally += 1;
      if (user !== null) identified -= 1;
      pump.remove(conn);
    });
    ws.on("message", (data, isBinary) => {
      const receivedAt = epochNow();
      if (isBinary) return ws.close(4002, "Decode error.");
      // `d` is read by opcode below.
      // deno-lint-ignore no-explicit-any
      let frame: { op?: unknown; d?: any };
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return ws.close(4002, "Decode error.");
      }
      switch (frame.op) {
        case 1:
          op1 += 1;
          ws.send(ACK);
          return;
        case 3: {
          if (user === null) return ws.close(4003, "Not authenticated.");
          op3 += 1;
          if (Array.isArray(frame.d?.activities) && frame.d.activities.length === 0) cleared += 1;
          if (!presented.has(user)) {
            presented.add(user);
            if (target && presented.size >= target.count) {
              target.resolve(receivedAt);
              target = null;
            }
          }
          const state = frame.d?.activities?.[0]?.state;
          if (typeof state === "string" && state.startsWith("t=")) samples.push(receivedAt - Number(state.slice(2)));
          return;
        }
        case 2:
        case 6: {
          if (user !== null) return ws.close(4005, "Already authenticated.");
          const token = frame.d?.token;
          if (typeof token !== "string" || !token.startsWith("bench-")) return ws.close(4004, "Authentication failed.");
          user = token.slice("bench-".length);
          identified += 1;
          if (frame.op === 6) {
            // Discord replays what the client missed after its seq, then RESUMED: nothing was missed here.
            conn.seq = typeof frame.d?.seq === "number" ? frame.d.seq : 1;
            ws.send(`{"t":"RESUMED","s":${++conn.seq},"op":0,"d":{}}`);
          } else {
            sessions += 1;
            conn.seq = 1;
            ws.send(ready({ userId: userIdOf(user), sessionId: sessions.toString(16).padStart(32, "0"), resumeUrl: url }));
          }
          pump.add(conn);
          return;
        }
        default:
          return; // other client ops are legal and ignored
      }
    });
    ws.send(hello);
  }

  serve({
    async listen({ heartbeatIntervalMs, account }: { heartbeatIntervalMs: number; account: AccountTraffic }) {
      const hello = JSON.stringify({ op: 10, d: { heartbeat_interval: heartbeatIntervalMs } });
      // Built now, once: no connection pays for it.
      ready = readyFrame(account.readyBytes);
      pump = new DispatchPump(account.dispatchRate);
      // clientTracking off: no Set of 10,000 sockets; a deep backlog for a burst of connects.
      server = new WebSocketServer({ host: "127.0.0.1", port: 0, backlog: 8192, clientTracking: false, perMessageDeflate: false, skipUTF8Validation: true });
      server.on("connection", (ws) => onConnection(ws, hello));
      await new Promise<void>((resolve, reject) => {
        server!.once("listening", resolve);
        server!.once("error", reject);
      });
      url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return { url };
    },
    stats(): GatewayStats {
      const latencyMs = samples;
      samples = [];
      return { identified, op1, op3, presentedUsers: presented.size, closed, closedNormally, cleared, dispatches: pump.sent, latencyMs };
    },
    reset() {
      op1 =
        op3 =
        closed =
        closedNormally =
        cleared =
          0;
      pump.resetCount();
      presented.clear();
      samples = [];
    },
    /** Resolves with the gateway's clock when `count` users have sent an op 3 (since the last reset). */
    waitPresented({ count, timeoutMs }: { count: number; timeoutMs: number }) {
      if (presented.size >= count) return Promise.resolve({ at: epochNow(), presentedUsers: presented.size });
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          target = null;
          reject(new Error(`gateway: ${presented.size} of ${count} users presented after ${timeoutMs} ms`));
        }, timeoutMs);
        target = {
          count,
          resolve: (at) => {
            clearTimeout(timer);
            resolve({ at, presentedUsers: presented.size });
          },
        };
      });
    },
    close() {
      setImmediate(() => process.exit(0));
    },
  });
}

/** The parent's handle on a gateway process. */
export interface GatewayHandle {
  url: string;
  stats(): Promise<GatewayStats>;
  reset(): Promise<void>;
  waitPresented(count: number, timeoutMs: number): Promise<{ at: number; presentedUsers: number }>;
  close(): Promise<void>;
}

/**
 * Forks a gateway process listening on 127.0.0.1 (a random port) with the given Hello interval,
 * sending each socket a real account's READY and dispatches (`account`).
 */
export async function startGateway(heartbeatIntervalMs: number, account: AccountTraffic): Promise<GatewayHandle> {
  const child = new Child(new URL(import.meta.url), { args: ["--bench-gateway-process"] });
  const { url } = await child.call<{ url: string }>("listen", { heartbeatIntervalMs, account });
  return {
    url,
    stats: () => child.call<GatewayStats>("stats"),
    reset: () => child.call("reset").then(() => {}),
    waitPresented: (count, timeoutMs) => child.call("waitPresented", { count, timeoutMs }),
    close: () => child.kill(),
  };
}

// Forked with --bench-gateway-process: this process is the gateway. Imported by the parent: just the handle.
if (process.argv.includes("--bench-gateway-process")) runGateway();
