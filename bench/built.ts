/**
 * The bench runs what users run: the built package (`node dist/cli/main.js`, as the README's run
 * command), not the sources through tsx, whose loader alone held ~20 MiB and a few hundred ms of
 * every start. Built once per bench process; the raw baselines that run as processes of their own
 * are compiled by the same tsc, so both sides run as plain JavaScript under plain node.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TSC = join(ROOT, "node_modules", ".bin", "tsc");
/** Inside the checkout's node_modules, so that the compiled files find `ws` as the sources do. */
const OUT = join(ROOT, "node_modules", ".cache", "nd-bench");

let cliBuilt = false;

/** `npm run build`'s tsc, once: resolves with the CLI's path relative to the checkout. */
export function builtCli(): string {
  if (!cliBuilt) execFileSync(TSC, ["-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  cliBuilt = true;
  return "dist/cli/main.js";
}

/** A bench script (`bench/...ts`) compiled with its imports: resolves with the .js file's absolute path. */
export function builtScript(script: string): string {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "package.json"), '{ "type": "module" }\n');
  const options = ["--outDir", OUT, "--rootDir", ".", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"];
  const flags = [
    "--rewriteRelativeImportExtensions",
    "--allowImportingTsExtensions",
    "--skipLibCheck",
    "--types",
    "node",
    "--verbatimModuleSyntax",
    "--ignoreConfig",
  ];
  execFileSync(TSC, [...options, ...flags, script], { cwd: ROOT, stdio: "inherit" });
  return join(OUT, script.replace(/\.ts$/, ".js"));
}
