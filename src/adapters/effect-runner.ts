import { Op } from "../actors/discord-protocol.ts";
import type { Activity, Effect } from "../actors/effects.ts";
import type { AdapterEventInput } from "../actors/events.ts";
import { errorText, PresenceError } from "../errors.ts";
import type { ArtworkResolver } from "./artwork/resolver.ts";
import type { DiscordRest } from "./discord/rest.ts";
import type { GatewaySockets } from "./discord/gateway-sockets.ts";
import type { Logger } from "./logger.ts";

/** The ports a presence machine's effects are carried out through. */
export interface EffectPorts {
  sockets: Pick<GatewaySockets, "open" | "send" | "close" | "closeUser">;
  rest: Pick<DiscordRest, "discoverGateway" | "checkToken">;
  /** The user's Discord token, for the token check (it never leaves this adapter and the REST one). */
  tokenFor(user: string): string | undefined;
  artwork: Pick<ArtworkResolver, "resolve">;
  logger: Logger;
  /** Where answers go: the service's dispatch, so that they are journaled like any input. */
  dispatch(event: AdapterEventInput): void;
  /** Told whenever an op 3 leaves for Discord: what the user's status now shows. */
  presenceSent(user: string, activity: Activity | null): void;
}

/**
 * Answers still awaited in this process: gateway discoveries and artwork resolutions started and
 * whose outcome has not been dispatched yet. Read-only observability for tests' I/O barrier
 * (test/fakes/io-barrier.ts); process-wide because the service builds its ports itself.
 */
let awaited = 0;

/** How many discoveries, token checks and artwork resolutions are under way (see `awaited`). */
export function answersAwaited(): number {
  return awaited;
}

/** Counts `answer` as awaited until its outcome has been dispatched. */
function awaiting(answer: Promise<void>): void {
  awaited += 1;
  void answer.finally(() => (awaited -= 1));
}

/**
 * Carries out one effect for one user. Never throws: a failing port is logged, and the one user's
 * machine learns of it through an event, so no other user is touched.
 */
export function runEffect(ports: EffectPorts, user: string, effect: Effect): void {
  try {
    switch (effect.type) {
      case "log":
        ports.logger.log(effect.level, effect.message, effect.data);
        return;
      case "socket.open":
        ports.sockets.open(user, effect.socket, effect.url);
        return;
      case "socket.send":
        ports.sockets.send(user, effect.socket, effect.frame);
        if (effect.frame.op === Op.PresenceUpdate) ports.presenceSent(user, effect.frame.d.activities[0] ?? null);
        return;
      case "socket.close":
        ports.sockets.close(user, effect.socket, effect.code, effect.reason);
        return;
      case "socket.closeAny":
        ports.sockets.closeUser(user, effect.code, effect.reason);
        return;
      case "gateway.discover":
        awaiting(
          ports.rest.discoverGateway(effect.refresh).then(
            (url) => ports.dispatch({ type: "gateway.discovered", user, url }),
            (error: unknown) => ports.dispatch({ type: "gateway.discoveryFailed", user, reason: errorText(error) }),
          ),
        );
        return;
      case "discord.checkToken": {
        const token = ports.tokenFor(user);
        if (token === undefined) return;
        awaiting(
          ports.rest.checkToken(token).then((verdict) => {
            // Only a clear "invalid" stops the user; a valid token or no answer leaves the backoff to go on.
            if (verdict === "invalid") ports.dispatch({ type: "discord.unauthorized", user });
            else ports.logger.log("info", "token check", { user, verdict });
          }),
        );
        return;
      }
      case "artwork.resolve": {
        const key = effect.request.key;
        awaiting(
          ports.artwork.resolve(user, effect.request).then(
            (image) =>
              ports.dispatch(
                image ? { type: "artwork.resolved", user, key, image } : { type: "artwork.failed", user, key, reason: "no artwork found" },
              ),
            (error: unknown) =>
              ports.dispatch(
                error instanceof PresenceError && error.code === "token_invalid"
                  ? { type: "discord.unauthorized", user }
                  : { type: "artwork.failed", user, key, reason: errorText(error) },
              ),
          ),
        );
        return;
      }
    }
  } catch (error) {
    ports.logger.log("error", "effect failed", { user, effect: effect.type, error: errorText(error) });
  }
}
