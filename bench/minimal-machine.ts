/**
 * The smallest XState machine that does a user's protocol work in these benchmarks, written the
 * way the first design asked for the real one (one actor per user, the heartbeat as a named delay,
 * effects through `perform`; replaced in issue 16 by the connection owning the wire) and nothing more: open a socket on the first play, identify on Hello, beat,
 * note ACKs, close a zombie, send the track's activity. No resume, no backoff, no rate windows,
 * no artwork, no templates.
 *
 * It takes the presence machine's input and events and leaves the same effects, so the floor
 * harnesses run either machine. What it costs is what any design that steps one XState actor per
 * user on every beat and ACK costs under this XState; a target it misses is out of reach for
 * nd-presence as designed, however its own machine is written. (Issue 16 moved beats and ACKs
 * out of the presence machine, into the connection: this machine stays the floor of the design
 * that had them, which is why it declares the beat and ACK events itself.)
 */
import { assign, raise, setup } from "xstate";
import { Op } from "../src/actors/discord-protocol.ts";
import type { Activity, ClientProperties, Effect } from "../src/actors/effects.ts";
import type { PresenceEvent } from "../src/actors/presence-effects.ts";
import { nextRandom } from "../src/actors/random.ts";
import type { PresenceInput } from "../src/actors/settings.ts";
import { trackActivity } from "./track-activity.ts";

/**
 * The presence machine's events, and the two of a machine that beats: its beat timer and the ACK.
 * (Until issue 16 they were the presence machine's own; with it, only this machine has them.)
 */
type MinimalEvent = PresenceEvent | { type: "heartbeat.due"; socket: number } | { type: "gateway.heartbeatAck"; user: string; socket: number; at: number };

interface MinimalContext {
  user: string;
  applicationId: string;
  url: string;
  properties: ClientProperties;
  random: number;
  heartbeatIntervalMs: number;
  firstHeartbeatMs: number;
  awaitingAck: boolean;
  seq: number | null;
  activity: Activity | null;
}

const SOCKET = 1;

/** The presence frame for the context's activity. */
const presenceFrame = ({ context }: { context: MinimalContext }): Effect => ({
  type: "socket.send",
  socket: SOCKET,
  frame: { op: Op.PresenceUpdate, d: { since: 0, status: "online", afk: true, activities: context.activity ? [context.activity] : [] } },
});

/** A beat: not a frame a presence machine sends once the connection owns the wire, so typed here. */
const beatFrame = ({ context }: { context: MinimalContext }): Effect =>
  ({ type: "socket.send", socket: SOCKET, frame: { op: Op.Heartbeat, d: context.seq } }) as unknown as Effect;

export const minimalMachine = setup({
  types: { context: {} as MinimalContext, events: {} as MinimalEvent, input: {} as PresenceInput },
  actions: {
    perform: (_, _effect: Effect) => {},
    takeTrack: assign(({ context, event }) =>
      event.type === "playback.playing" ? { activity: trackActivity(event.track, event.at - (event.positionMs ?? 0), context.applicationId) } : {}
    ),
  },
  guards: { isZombie: ({ context }) => context.awaitingAck },
  delays: {
    heartbeatInterval: ({ context }) => context.heartbeatIntervalMs,
    firstHeartbeat: ({ context }) => context.firstHeartbeatMs,
  },
}).createMachine({
  id: "minimal",
  context: ({ input }) => ({
    user: input.user,
    applicationId: input.presence.applicationId,
    url: input.gatewayUrl ?? "",
    properties: input.properties,
    random: input.seed,
    heartbeatIntervalMs: 41_250,
    firstHeartbeatMs: 0,
    awaitingAck: false,
    seq: null,
    activity: null,
  }),
  initial: "idle",
  on: {
    "heartbeat.due": [
      {
        guard: "isZombie",
        target: ".idle",
        actions: { type: "perform", params: { type: "socket.close", socket: SOCKET, code: 4000, reason: "zombie connection" } },
      },
      {
        actions: [
          { type: "perform", params: beatFrame },
          assign({ awaitingAck: true }),
          raise({ type: "heartbeat.due", socket: SOCKET }, { delay: "heartbeatInterval", id: "heartbeat" }),
        ],
      },
    ],
    "gateway.heartbeatAck": { actions: assign({ awaitingAck: false }) },
  },
  states: {
    idle: {
      on: {
        "playback.playing": {
          target: "opening",
          actions: ["takeTrack", { type: "perform", params: ({ context }) => ({ type: "socket.open", socket: SOCKET, url: context.url }) }],
        },
      },
    },
    opening: {
      on: {
        "playback.playing": { actions: "takeTrack" },
        "gateway.hello": {
          target: "identifying",
          actions: [
            assign(({ context, event }) => {
              const [draw, random] = nextRandom(context.random);
              const heartbeatIntervalMs = event.type === "gateway.hello" ? event.heartbeatIntervalMs : context.heartbeatIntervalMs;
              return { random, heartbeatIntervalMs, firstHeartbeatMs: Math.floor(heartbeatIntervalMs * draw), awaitingAck: false };
            }),
            raise({ type: "heartbeat.due", socket: SOCKET }, { delay: "firstHeartbeat", id: "heartbeat" }),
            {
              type: "perform",
              params: ({ context }) => ({
                type: "socket.send",
                socket: SOCKET,
                frame: {
                  op: Op.Identify,
                  d: {
                    capabilities: 0,
                    properties: context.properties,
                    presence: { status: "unknown", since: 0, activities: [], afk: true },
                    compress: false,
                    client_state: { guild_versions: {} },
                  },
                },
              }),
            },
          ],
        },
      },
    },
    identifying: {
      on: {
        "playback.playing": { actions: "takeTrack" },
        "gateway.ready": {
          target: "presenting",
          actions: [assign(({ event }) => ({ seq: event.type === "gateway.ready" ? event.seq : null })), { type: "perform", params: presenceFrame }],
        },
      },
    },
    presenting: {
      on: {
        "playback.playing": { actions: ["takeTrack", { type: "perform", params: presenceFrame }] },
      },
    },
  },
});
