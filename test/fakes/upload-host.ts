/**
 * A uguu.se look-alike (docs/protocol.md section 2): `POST /upload` with a multipart field `files[]`
 * answers `{"success":true,"files":[{"url":"<its own url>/f/<name>"}]}`; `GET /f/<name>` serves
 * the file back. A real `node:http` server on loopback.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedUpload {
  field: string;
  filename: string;
  contentType: string;
  bytes: Uint8Array;
  userAgent: string | undefined;
  /** The public URL the host answered. */
  url: string;
}

export type UploadFailure = "http500" | "refused";

export class FakeUploadHost {
  readonly uploads: RecordedUpload[] = [];
  /** Every request, as `METHOD path`. */
  readonly requests: string[] = [];
  readonly url: string;
  readonly #server: Server;
  readonly #failures: UploadFailure[] = [];
  readonly #files = new Map<string, { bytes: Uint8Array; type: string }>();

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(): Promise<FakeUploadHost> {
    // Assigned once the server listens; its handler, called later, reads it.
    // deno-lint-ignore prefer-const
    let fake: FakeUploadHost | undefined;
    const server = createServer((req, res) => {
      fake!.#handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    fake = new FakeUploadHost(server, (server.address() as AddressInfo).port);
    return fake;
  }

  /** The next upload fails: HTTP 500, or a 200 with `success:false` (what uguu answers to a bad file). */
  failNext(kind: UploadFailure, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push(kind);
  }

  /** The `/upload` endpoint, to pass as `uploadUrl`. */
  get uploadUrl(): string {
    return `${this.url}/upload`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    this.requests.push(`${method} ${path}`);
    const body = await readBody(req);
    const file = /^\/f\/([^/?]+)$/.exec(path);
    if (method === "GET" && file && this.#files.has(file[1]!)) {
      const stored = this.#files.get(file[1]!)!;
      res.writeHead(200, { "content-type": stored.type });
      return void res.end(Buffer.from(stored.bytes));
    }
    if (method !== "POST" || path !== "/upload") return json(res, 404, { success: false, errorcode: 404, description: "Not found" });
    const failure = this.#failures.shift();
    if (failure === "http500") return json(res, 500, { success: false, errorcode: 500, description: "Server error" });
    if (failure === "refused") return json(res, 200, { success: false, errorcode: 415, description: "Filetype not allowed" });

    // The standard Request parser reads the multipart body, as a real host's framework would.
    const form = await new Request("http://fake.invalid/upload", {
      method: "POST",
      headers: { "content-type": req.headers["content-type"] ?? "" },
      body,
    }).formData();
    const [field, upload] = [...form.entries()].find(([, value]) => typeof value !== "string") ?? [];
    if (field !== "files[]" || upload === undefined || typeof upload === "string") {
      return json(res, 400, { success: false, errorcode: 400, description: "No input file(s)" });
    }
    const bytes = new Uint8Array(await upload.arrayBuffer());
    const name = `${this.uploads.length + 1}-${upload.name}`;
    const url = `${this.url}/f/${name}`;
    this.#files.set(name, { bytes, type: upload.type });
    this.uploads.push({ field, filename: upload.name, contentType: upload.type, bytes, userAgent: req.headers["user-agent"], url });
    return json(res, 200, { success: true, files: [{ hash: String(bytes.length), filename: name, url, size: bytes.length, dupe: false }] });
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
