import type { Track } from "../../actors/track.ts";
import type { Logger } from "../logger.ts";
import type { SubsonicClient } from "../sources/subsonic-client.ts";
import { errorText } from "../../errors.ts";
import { urlForLog } from "../url-for-log.ts";

export interface CoverUploaderOptions {
  client: Pick<SubsonicClient, "getCoverArt">;
  /** uguu.se's API (docs/protocol.md section 2). Default `https://uguu.se/upload`. */
  uploadUrl?: string;
  userAgent?: string;
  fetch?: typeof fetch;
  logger: Logger;
  /** Size asked of getCoverArt (px). Default 600: plenty for Discord's large image. */
  size?: number;
  /** Per-upload timeout. Default 30 s. */
  timeoutMs?: number;
}

const extensions: Record<string, string> = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif" };

/**
 * The "upload" artwork source (docs/protocol.md section 2): reads the cover from the Subsonic server
 * (whose URL carries credentials and must never reach Discord) and posts the bytes to a temporary
 * public host (uguu.se: multipart field `files[]`, answer `{"success":true,"files":[{"url":...}]}`,
 * files live about 3 h). Resolves to the public URL, or null on any failure (logged, no secrets).
 * The resolver caches the URL it gets and still checks it with `isSafeUrl`.
 */
export function createCoverUploader(options: CoverUploaderOptions): (track: Track) => Promise<string | null> {
  const uploadUrl = options.uploadUrl ?? "https://uguu.se/upload";
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const target = urlForLog(uploadUrl);

  return async (track) => {
    const id = track.coverArtId;
    if (id === undefined || id === "") return null;
    let cover: { bytes: Uint8Array; contentType: string };
    try {
      cover = await options.client.getCoverArt(id, options.size ?? 600);
    } catch (error) {
      // The client's messages carry no credentials.
      options.logger.log("warn", "cover upload: reading the cover from the server failed", { coverArtId: id, error: errorText(error) });
      return null;
    }
    try {
      const type = cover.contentType.split(";")[0]!.trim().toLowerCase();
      const form = new FormData();
      // A copy into a plain ArrayBuffer: Blob's typings refuse a Uint8Array over a SharedArrayBuffer.
      const blob = new Blob([cover.bytes.slice().buffer as ArrayBuffer], { type });
      form.append("files[]", blob, `cover.${extensions[type] ?? "jpg"}`);
      const response = await doFetch(uploadUrl, {
        method: "POST",
        body: form,
        headers: options.userAgent ? { "User-Agent": options.userAgent } : undefined,
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
      const body = (await response.json().catch(() => undefined)) as { success?: unknown; files?: Array<{ url?: unknown }> } | undefined;
      const url = body?.success === true ? body.files?.[0]?.url : undefined;
      if (!response.ok || typeof url !== "string") {
        options.logger.log("warn", "cover upload: the host refused the file", { host: target, status: response.status });
        return null;
      }
      options.logger.log("debug", "cover uploaded", { host: target, coverArtId: id });
      return url;
    } catch (error) {
      options.logger.log("warn", "cover upload failed", { host: target, error: errorText(error) });
      return null;
    }
  };
}
