/**
 * A MusicBrainz look-alike for the release search (docs/protocol.md section 2: the release MBID that
 * the Cover Art Archive is asked by), as a real `node:http` server on loopback, so that the lookup is
 * tested over the wire: its query, its User-Agent, its pacing, and the failures MusicBrainz answers.
 *
 * `GET /ws/2/release/?query=release:"<album>" AND artist:"<artist>"&fmt=json&limit=1` answers
 * `{"count","offset","releases":[{"id","score","title","release-group":{"id"},"artist-credit":[{"name"}]}]}`
 * with the one release of `releases` whose title and artist match (case-insensitively), or none.
 * A query of another shape is a 400, as a Lucene syntax error is at MusicBrainz.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A release the fake knows. `score` defaults to 100 (an exact match). */
export interface FakeRelease {
  id: string;
  title: string;
  artist: string;
  releaseGroup?: string;
  score?: number;
}

/** One search as the fake received it: `album` and `artist` are read back out of the Lucene query. */
export interface ReleaseSearch {
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  album: string | undefined;
  artist: string | undefined;
  /** The test's clock when the request arrived (see `start`'s `now`). */
  at: number;
}

/** `release:"..." AND artist:"..."`, each phrase with Lucene's backslash escapes. */
const searchQuery = /^release:"((?:\\.|[^"\\])*)" AND artist:"((?:\\.|[^"\\])*)"$/;
const unescape = (phrase: string) => phrase.replace(/\\(.)/g, "$1");

export class FakeMusicBrainz {
  readonly searches: ReleaseSearch[] = [];
  /** What the search finds; mutable so that a test can add a release later. */
  readonly releases: FakeRelease[];
  /** Base URL without a trailing slash: use as `musicBrainzUrl`. */
  readonly url: string;
  readonly #server: Server;
  readonly #now: () => number;
  readonly #failures: number[] = [];

  private constructor(server: Server, releases: FakeRelease[], now: () => number) {
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.releases = releases;
    this.#now = now;
  }

  /** `now` stamps each search with the test's clock (default: 0), to check the pacing. */
  static async start(options: { releases?: FakeRelease[]; now?: () => number } = {}): Promise<FakeMusicBrainz> {
    // Assigned once the server listens; its handler, called later, reads it.
    // deno-lint-ignore prefer-const
    let fake: FakeMusicBrainz | undefined;
    const server = createServer((req, res) => fake!.#handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    fake = new FakeMusicBrainz(server, [...(options.releases ?? [])], options.now ?? (() => 0));
    return fake;
  }

  /** Answer the next `times` searches with `status` (503 is MusicBrainz's "slow down"). */
  failNext(status: number, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push(status);
  }

  async close(): Promise<void> {
    // fetch keeps connections alive: drop them, or close() waits for the keep-alive timeout.
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const target = new URL(req.url ?? "/", this.url);
    const query = Object.fromEntries(target.searchParams);
    const match = searchQuery.exec(query.query ?? "");
    const [album, artist] = match ? [unescape(match[1]!), unescape(match[2]!)] : [undefined, undefined];
    this.searches.push({ query, headers: req.headers, album, artist, at: this.#now() });
    const status = this.#failures.shift();
    if (status !== undefined) return answer(res, status, { error: `fake failure ${status}` });
    if (target.pathname !== "/ws/2/release/") return answer(res, 404, { error: "Not Found" });
    if (!match || query.fmt !== "json") return answer(res, 400, { error: "Invalid query" });
    const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
    const found = this.releases.filter((r) => same(r.title, album!) && same(r.artist, artist!)).slice(0, Number(query.limit ?? 25));
    answer(res, 200, {
      created: "2024-11-23T19:33:20.000Z",
      count: found.length,
      offset: 0,
      releases: found.map((r) => ({
        id: r.id,
        score: r.score ?? 100,
        title: r.title,
        ...(r.releaseGroup ? { "release-group": { id: r.releaseGroup, "primary-type": "Album" } } : {}),
        "artist-credit": [{ name: r.artist }],
      })),
    });
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
