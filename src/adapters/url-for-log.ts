/**
 * Origin and path only: a query is never logged, as it may carry credentials (a Subsonic URL's
 * `u`/`t`/`s`/`p`).
 *
 * @example
 * urlForLog("http://nd:4533/rest/getCoverArt?id=1&t=abc") // "http://nd:4533/rest/getCoverArt"
 */
export function urlForLog(url: string): string {
  try {
    const { origin, pathname } = new URL(url);
    return origin + pathname;
  } catch {
    return "(invalid URL)";
  }
}
