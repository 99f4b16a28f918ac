import type { AnyActorRef, EventObject } from "xstate";

/** The system of any actor tree (XState does not export its own name for it). */
type AnyActorSystem = AnyActorRef["system"];

/** A pending XState timer (an `after` delay or a delayed `raise`), as a checkpoint keeps it. */
export interface SavedTimer {
  /** Ids from the root's child down to the actor that set it (the root itself: []). */
  source: string[];
  target: string[];
  event: EventObject;
  id: string;
  /** When it is due, on the service clock. */
  dueAt: number;
}

/**
 * Keeps, for each actor, the timers it has pending in the actor system's scheduler, with their due
 * times on the service clock. XState itself keeps them in one flat table whose entries carry
 * real-clock start times, and does not restore them with a persisted snapshot. This index is
 * what lets a checkpoint save and restore them exactly.
 *
 * It also makes stopping an actor cost what that actor has pending: XState's own `cancelAll`
 * scans every timer in the system, so stopping N machines one by one was O(N²) (a shutdown or a
 * sweep of 10,000 users).
 *
 * It wraps the scheduler's three public methods (`ActorSystem.scheduler`) before the system starts.
 */
export class ActorTimers {
  readonly #system: AnyActorSystem;
  readonly #now: () => number;
  /** Each actor's pending timers: id -> due time (XState's table has the rest). */
  readonly #byActor = new WeakMap<AnyActorRef, Map<string, number>>();
  #anonymous = 0;

  constructor(system: AnyActorSystem, now: () => number) {
    this.#system = system;
    this.#now = now;
    const scheduler = system.scheduler;
    const schedule = scheduler.schedule.bind(scheduler);
    const cancel = scheduler.cancel.bind(scheduler);
    // A delayed raise without an id gets one here, not from Math.random inside XState, so that
    // every timer can be found again. Entries of fired timers stay until their id is set again or
    // the actor stops (XState fires without a call here), so the machines use a bounded set of
    // ids; an anonymous timer would leave one entry behind each time.
    scheduler.schedule = (source, target, event, delay, id = `anonymous.${++this.#anonymous}`) => {
      this.#pendingOf(source).set(id, this.#now() + delay);
      schedule(source, target, event, delay, id);
    };
    scheduler.cancel = (source, id) => {
      this.#byActor.get(source)?.delete(id);
      cancel(source, id);
    };
    scheduler.cancelAll = (source) => {
      const pending = this.#byActor.get(source);
      if (!pending) return;
      for (const id of [...pending.keys()]) scheduler.cancel(source, id);
      this.#byActor.delete(source);
    };
  }

  /** Every pending timer of the system's actors, with ids paths from `root` (for a checkpoint). */
  save(root: AnyActorRef): SavedTimer[] {
    const paths = actorPaths(root);
    const saved: SavedTimer[] = [];
    // What XState still has scheduled: fired timers linger in the index until set again.
    for (const { source, target, event, id } of Object.values(this.#system.getSnapshot()._scheduledEvents)) {
      const dueAt = this.#byActor.get(source)?.get(id);
      const sourcePath = paths.get(source);
      const targetPath = paths.get(target);
      if (dueAt === undefined || !sourcePath || !targetPath) continue;
      saved.push({ source: sourcePath, target: targetPath, event, id, dueAt });
    }
    return saved.sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Schedules saved timers again, each due when it was due (at once if that has passed). */
  restore(root: AnyActorRef, timers: SavedTimer[]): void {
    const refs = new Map([...actorPaths(root)].map(([ref, path]) => [path.join("\u0000"), ref]));
    for (const timer of timers) {
      const source = refs.get(timer.source.join("\u0000"));
      const target = refs.get(timer.target.join("\u0000"));
      if (!source || !target) continue;
      this.#system.scheduler.schedule(source, target, timer.event, Math.max(0, timer.dueAt - this.#now()), timer.id);
    }
  }

  #pendingOf(source: AnyActorRef): Map<string, number> {
    let pending = this.#byActor.get(source);
    if (!pending) this.#byActor.set(source, pending = new Map());
    return pending;
  }
}

/** Each actor of the tree under `root` (root included), with its path of ids from the root. */
function actorPaths(root: AnyActorRef): Map<AnyActorRef, string[]> {
  const paths = new Map<AnyActorRef, string[]>();
  const visit = (ref: AnyActorRef, path: string[]) => {
    paths.set(ref, path);
    const children = (ref.getSnapshot() as { children?: Record<string, AnyActorRef> }).children ?? {};
    for (const [id, child] of Object.entries(children)) visit(child, [...path, id]);
  };
  visit(root, []);
  return paths;
}
