/**
 * The household scenario's raw baseline: one user's raw client (raw-client.ts) in a process of its
 * own, showing one track, started the same way as the service (`node --import tsx`), so that the
 * two RSS readings differ by what each program holds, not by the loader.
 *
 *   node --import tsx bench/network/household-raw.ts ws://127.0.0.1:<port>
 *
 * Runs until SIGTERM, then clears the presence and closes with 1000, as the service does.
 */
import { epochNow } from "./ipc.ts";
import { RawClient } from "./raw-client.ts";
import { APP_ID, tokenFor, USER_AGENT } from "./bench-client.ts";
import { trackActivity } from "../track-activity.ts";

const url = process.argv[2];
if (!url?.startsWith("ws://")) throw new Error("usage: household-raw.ts ws://127.0.0.1:<port>");
const client = new RawClient({ url, userAgent: USER_AGENT, tokenFor });
const at = epochNow();
client.present("u0", trackActivity({ title: "Bench Song", artist: "Bench Artist", album: "Bench Album", durationMs: 3_600_000 }, at, APP_ID));
process.once("SIGTERM", () => void client.clearAll().then(() => process.exit(0)));
