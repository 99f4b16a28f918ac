/**
 * The floor under the steady state: every user's machine and nothing around it (nd-presence's
 * presence machine, or the minimal one: ../floors.ts). No socket, no journal, no supervisor, no
 * effect runner: a stand-in answers in the same process, a turn of the event loop later, what the
 * fake gateway would (Hello, READY, a heartbeat ACK), and artwork fails at once, as it does for
 * the service's bench config (no MBIDs, no public URL).
 *
 * What this side costs is what XState's machines cost by themselves, beats and ACKs included; the
 * service cannot cost less than this plus the sockets the raw client pays for.
 */
import { type Actor, type AnyStateMachine, createActor, type EventFrom } from "xstate";
import { Op } from "../../src/actors/discord-protocol.ts";
import type { Effect } from "../../src/actors/effects.ts";
import { seedFrom } from "../../src/actors/random.ts";
import { presenceInput } from "../../src/actors/shard-machine.ts";
import type { Track } from "../../src/actors/track.ts";
import { type ServiceConfig, userProfiles } from "../../src/config/service-config.ts";
import { type FloorMachine, floorMachines } from "../floors.ts";

export interface MachinesAlone {
  play(user: string, track: Track, at: number): void;
  /** Users presenting a track, and heartbeats sent since the start. */
  stats(): { presenting: number; beats: number };
  stop(): void;
}

/** `config` as the service side's, so that each machine is the one the service would run. */
export function machinesAlone(config: ServiceConfig, heartbeatIntervalMs: number, kind: FloorMachine): MachinesAlone {
  const machines = new Map<string, Actor<AnyStateMachine>>();
  let seq = 0;
  let beats = 0;
  const later = (user: string, event: EventFrom<AnyStateMachine>) => setImmediate(() => machines.get(user)?.send(event));

  /** What the fake gateway (and an artwork lookup with nothing to look up) would answer. */
  function answer(user: string, effect: Effect): void {
    const at = Date.now();
    if (effect.type === "socket.open") later(user, { type: "gateway.hello", user, socket: effect.socket, heartbeatIntervalMs, at });
    if (effect.type === "artwork.resolve" && effect.request.kind === "track") {
      later(user, { type: "artwork.failed", user, key: effect.request.key, reason: "no candidate", at });
    }
    if (effect.type !== "socket.send") return;
    const { socket, frame } = effect;
    if (frame.op === Op.Identify) later(user, { type: "gateway.ready", user, socket, seq: ++seq, sessionId: `session-${user}`, at });
    // Only a machine that beats sends op 1 (the minimal one, today's presence machine): its ACK.
    if ((frame.op as number) === Op.Heartbeat) {
      beats += 1;
      later(user, { type: "gateway.heartbeatAck", user, socket, at } as EventFrom<AnyStateMachine>);
    }
  }

  // One machine definition for every user, as in the service: the user comes from the context.
  const logic = floorMachines[kind].provide({ actions: { perform: ({ context }, effect: Effect) => answer(context.user, effect) } });
  const profiles = new Map(userProfiles(config).map((profile) => [profile.user, profile]));
  return {
    play(user, track, at) {
      let machine = machines.get(user);
      if (!machine) {
        machine = createActor(logic, { input: presenceInput(profiles.get(user)!, seedFrom(user, at)) }).start();
        machines.set(user, machine);
      }
      machine.send({ type: "playback.playing", user, track, positionMs: 0, at });
    },
    stats: () => ({ presenting: [...machines.values()].filter((m) => m.getSnapshot().matches("presenting")).length, beats }),
    stop: () => machines.forEach((machine) => machine.stop()),
  };
}
