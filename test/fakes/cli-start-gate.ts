/**
 * Preloaded into a CLI child process by crash.test.ts (`--import` on Node, `--preload` on Deno) to
 * hold its start: it loads the CLI's modules, says so on stderr, and lets the CLI run only once the
 * test writes a line to the child's stdin. A restart can so be made ready while the first process
 * still runs: how long a busy machine takes to start a runtime and load modules is then not part
 * of the restart whose timing the test checks. The CLI itself still starts from nothing: its
 * config, its journal and its service are read and built after the release.
 */
await import("../../src/cli/run.ts");
// crash.test.ts waits for this line (nothing is exported: importing this module would hold the importer).
process.stderr.write("nd-presence start gate: modules loaded\n");
// A pending read of stdin also keeps the process alive while it waits.
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
process.stdin.destroy();
