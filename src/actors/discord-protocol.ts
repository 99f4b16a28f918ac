/**
 * Discord's rules as numbers and one predicate (docs/protocol.md sections 1 and 2): the gateway
 * opcodes, the limits a frame and an activity must keep, and which URLs may be sent to Discord.
 * The one place they are written: the machines build presences with them, the adapters check
 * frames, image URLs and opcodes with them. Pure, so that the machines may import it.
 */

/** Gateway opcodes used here (docs/protocol.md section 1). */
export const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  Resume: 6,
  Reconnect: 7,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** An activity's `name`, `details`, `state`, `large_text` and `small_text`: at most 128 characters. */
export const MAX_TEXT_LENGTH = 128;

/** A URL field of an activity, or an image URL registered as an external asset: at most 256 characters. */
export const MAX_URL_LENGTH = 256;

/** An image key (`mp:external/...`): at most 313 characters. */
export const MAX_IMAGE_KEY_LENGTH = 313;

/** An outgoing gateway frame, in UTF-8 bytes: a longer one is closed with 4002. */
export const MAX_FRAME_BYTES = 4096;

/** Presence updates (op 3) per user: at most 5 in any 20 s. */
export const PRESENCE_LIMIT = 5;
export const PRESENCE_WINDOW_MS = 20_000;

/** Frames per connection: at most 120 in any 60 s, else Discord closes it with 4008. */
export const FRAME_LIMIT = 120;
export const FRAME_LIMIT_WINDOW_MS = 60_000;

/**
 * Query parameters that carry credentials: Subsonic's `u`, `t`, `s`, `p` (a `getCoverArt` URL
 * carries all of them) and the usual API key names. Compared in lower case.
 */
const credentialParams = new Set(["u", "t", "s", "p", "token", "apikey", "api_key", "access_token"]);

/**
 * True if `url` carries credentials: userinfo (`user:pass@`) or a credential query parameter
 * (`u`, `t`, `s`, `p`, `token`, `apiKey`...). Unparseable: true, as nothing can be said of it.
 * @example carriesCredentials("https://nd.example.org/rest/getCoverArt?id=1&u=admin&t=abc&s=salt") // true
 */
export function carriesCredentials(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return true;
  }
  if (parsed.username !== "" || parsed.password !== "") return true;
  for (const name of parsed.searchParams.keys()) if (credentialParams.has(name.toLowerCase())) return true;
  return false;
}

/**
 * The URL rule (docs/protocol.md section 2): what may be sent to Discord as a URL, an image to
 * register or a link in an activity, exactly as written: http(s) with a host, at most 256
 * characters, and no credentials (neither `user:password@` nor a credential query parameter).
 * A URL that breaks it is dropped, never cut: a cut URL points somewhere else.
 * @example isSafeUrl("https://coverartarchive.org/release/x/front-500") // true
 * @example isSafeUrl("https://nd.example.org/rest/getCoverArt?id=1&p=enc:6869") // false
 */
export function isSafeUrl(url: string): boolean {
  return url.length <= MAX_URL_LENGTH && /^https?:\/\/[^/]/i.test(url) && !carriesCredentials(url);
}

/**
 * `url` as it would be sent (normalised by the URL parser, so that what is measured is what is
 * sent) when that keeps the URL rule (see `isSafeUrl`); otherwise undefined.
 * @example safeUrl("https://musicbrainz.org/artist/x") // "https://musicbrainz.org/artist/x"
 * @example safeUrl("javascript:alert(1)") // undefined
 */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let href: string;
  try {
    href = new URL(url).href;
  } catch {
    return undefined;
  }
  return isSafeUrl(href) ? href : undefined;
}
