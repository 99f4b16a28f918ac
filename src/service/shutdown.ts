import type { Actor } from "xstate";
import type { supervisorMachine } from "../actors/supervisor-machine.ts";
import { systemClock } from "../clock.ts";
import { errorText } from "../errors.ts";
import { record } from "./journaling.ts";
import type { ServiceRuntime } from "./runtime.ts";

/**
 * Stops the service: every machine clears its presence (unless `clear` is false) and closes, then
 * the sockets close, the actors stop and the journal is closed.
 */
export async function shutDown(runtime: ServiceRuntime, clear: boolean): Promise<void> {
  if (!runtime.actor || !runtime.accepting) return;
  const running = runtime.actor;
  runtime.stopping = true;
  // Shutdown goes through the supervisor so that each machine clears and closes itself. Only a
  // clearing stop is journaled: after stop({ clear: false }) a restart resumes the sessions,
  // as after a crash.
  if (clear) record(runtime, { type: "service.shutdown", clear, at: runtime.clock.now() });
  else running.send({ type: "service.shutdown", clear, at: runtime.clock.now() });
  const deadlineMs = (runtime.config.gateway?.shutdownTimeoutMs ?? 4_000) + 1_000;
  await machinesStopped(running, deadlineMs);
  runtime.accepting = false;
  await runtime.sockets.closeAll(clear ? 1000 : 4000, "shutting down");
  running.stop();
  try {
    runtime.journal.close();
  } catch (error) {
    if (runtime.health.failed("close", error)) {
      runtime.logger.log("error", "journal could not be closed; what was written is kept", { error: errorText(error) });
    }
  }
}

/** Resolves once the supervisor has stopped (or failed), or after `deadlineMs` at the latest. */
function machinesStopped(running: Actor<typeof supervisorMachine>, deadlineMs: number): Promise<void> {
  // Real time, not the service clock: a stop must end even if simulated time stands still.
  return new Promise<void>((resolve) => {
    // The system clock: a host's config need not have been checked, and any delay works there.
    const timer = systemClock.setTimeout(() => resolve(), deadlineMs);
    const done = () => {
      systemClock.clearTimeout(timer);
      resolve();
    };
    const stopped = () => running.getSnapshot().value === "stopped" || running.getSnapshot().status !== "active";
    if (stopped()) return done();
    const subscription = running.subscribe({
      next: () => {
        if (!stopped()) return;
        subscription.unsubscribe();
        done();
      },
      error: done,
    });
  });
}
