/**
 * Request/response over Node's IPC channel, for the bench's child processes (the fake gateway and
 * the side hosting nd-presence or the raw client). Each side of a measurement runs in its own
 * process so that neither its CPU nor its memory mixes with the other's, or with the gateway's.
 */
import { type ChildProcess, fork } from "node:child_process";

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}
interface Response {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

// Each handler takes its own argument type; `unknown` would make every handler narrow it by hand.
// deno-lint-ignore no-explicit-any
export type Handlers = Record<string, (args: any) => unknown>;

/** Child side: answers the parent's requests with `handlers`; a throw becomes a rejected call. */
export function serve(handlers: Handlers): void {
  if (!process.send) throw new Error("bench child: started without an IPC channel");
  process.on("message", async (message: Request) => {
    let response: Response;
    try {
      const handler = handlers[message.cmd];
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      response = { id: message.id, ok: true, value: await handler(message.args) };
    } catch (error) {
      response = { id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    process.send!(response);
  });
  // The parent going away (a crash, Ctrl-C) must not leave 10,000 sockets open.
  process.on("disconnect", () => process.exit(0));
}

/** Parent side: a forked child that answers `call(cmd, args)`. */
export class Child {
  readonly #process: ChildProcess;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #next = 1;
  readonly exited: Promise<number | null>;

  constructor(entry: URL, options: { execArgv?: string[]; args?: string[] } = {}) {
    // tsx runs the TypeScript child; `--import` keeps the child a plain node process otherwise.
    this.#process = fork(entry, options.args ?? [], {
      execArgv: ["--import", "tsx", ...(options.execArgv ?? [])],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#process.on("message", (message: Response) => {
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(message.error));
    });
    this.exited = new Promise((resolve) => this.#process.once("exit", (code) => resolve(code)));
    void this.exited.then((code) => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`bench child exited (${code}) before answering`));
      this.#pending.clear();
    });
  }

  call<T = unknown>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#process.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Ends the child at once: its sockets die with it, which is all a bench run needs. */
  async kill(): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill("SIGKILL");
    await this.exited;
  }
}
