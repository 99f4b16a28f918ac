/**
 * An I/O barrier for tests that run the service against the loopback fakes: it waits until what
 * is under way between them is done, instead of sleeping and hoping it is. Both sides count (the
 * service's gateway sockets and effect runner in src, the fake gateway here), and the barrier ends
 * when the counts agree:
 * - no gateway socket is still connecting: each was accepted or failed;
 * - no close handshake is under way on either side, and as many sockets are open on the service's
 *   side as connections on the fake's;
 * - every frame the service wrote was received by the fake, and every frame the fake sent was
 *   handled by the service's socket adapter (delivered into the service, or ignored and logged);
 * - every HTTP answer the service awaits from the fakes (gateway discovery, artwork) was handled.
 * Between two looks it yields one turn of the event loop, so that loopback I/O runs. Real time is
 * only a safety net, with a message that says what never happened.
 */
import { answersAwaited } from "../../src/adapters/effect-runner.ts";
import { gatewayTraffic } from "../../src/adapters/discord/gateway-sockets.ts";
import type { FakeGateway } from "./gateway.ts";
import { deadline, nextTurn } from "./wait.ts";

/** Far above what loopback I/O takes on a busy machine: reaching it means something never happened. */
const SAFETY_NET_MS = 5_000;

/** What is still under way between the service's sockets and `gateway`, in words; null when nothing is. */
export function ioUnderWay(gateway: FakeGateway): string | null {
  const service = gatewayTraffic(gateway.host);
  const fake = gateway.traffic;
  const answers = answersAwaited();
  const underWay = [
    service.connecting > 0 && `${service.connecting} gateway socket(s) neither accepted nor failed`,
    service.closing > 0 && `${service.closing} socket(s) closing on the service's side`,
    fake.closing > 0 && `${fake.closing} connection(s) closing on the fake gateway's side`,
    service.open !== fake.open && `${service.open} socket(s) open on the service's side but ${fake.open} on the fake's`,
    service.sent !== fake.received && `the fake gateway received ${fake.received} of the ${service.sent} frames the service wrote`,
    fake.sent !== service.received && `the service handled ${service.received} of the ${fake.sent} frames the fake gateway sent`,
    answers > 0 && `${answers} HTTP answer(s) (gateway discovery, artwork) not handled yet`,
  ].filter((item): item is string => typeof item === "string");
  return underWay.length === 0 ? null : underWay.join("; ");
}

/** Resolves once nothing is under way between the service and `gateway` (see the module comment). */
export async function ioSettled(gateway: FakeGateway, timeoutMs = SAFETY_NET_MS): Promise<void> {
  const time = deadline(timeoutMs);
  try {
    for (let underWay = ioUnderWay(gateway); underWay !== null; underWay = ioUnderWay(gateway)) {
      if (time.expired) throw new Error(`I/O still under way after ${timeoutMs} ms: ${underWay}`);
      await nextTurn();
    }
  } finally {
    time.clear();
  }
}
