import { startHookline } from "../app.ts";
import { ConfigError, SETTINGS, loadConfig } from "../config/config.ts";
import { HooklineError } from "../core/errors.ts";
import { createLogger } from "../observability/logger.ts";
import { DataDirLockedError } from "../store/sqlite/data-dir-lock.ts";
import { VERSION } from "../version.ts";
import { ConnectError } from "@connectrpc/connect";
import { ADMIN_COMMANDS, ADMIN_USAGE, runAdmin } from "./admin.ts";
import { parseArgs } from "./args.ts";
import { receive } from "./receive.ts";

const USAGE = `hookline ${VERSION}: gRPC-first webhook delivery engine

usage:
  hookline serve [flags]          run the server (gRPC, gRPC-Web, Connect on one port)
  hookline receive [--port 9000] [--host 127.0.0.1] [--secret whsec_...] [--status 200]
                                  print incoming webhooks and verify their signatures
  hookline version
  hookline help

${ADMIN_USAGE}
serve flags (each also HOOKLINE_<NAME> in the environment, or a key of the --config JSON file):
  --config FILE                   JSON file of settings (camelCase keys)
${SETTINGS.map((s) => `  --${s.flag.padEnd(30)}${s.help}`).join("\n")}
`;

/** Exit code 2: the command line or configuration is unusable. */
function usageError(message: string): never {
  process.stderr.write(`hookline: ${message}\n`);
  process.exit(2);
}

async function serve(argv: string[]): Promise<void> {
  let config;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) usageError(err.message);
    throw err;
  }
  const logger = createLogger(config.logLevel);
  // A promise nobody awaited failed: a bug. Say so in the structured log, then exit, since
  // the state in memory can no longer be trusted; acknowledged work is in the store.
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "internal error (unhandled rejection): exiting; restart hookline, nothing acknowledged is lost");
    process.exit(70);
  });
  let app;
  try {
    app = await startHookline(config, logger);
  } catch (err) {
    logger.fatal({ err }, `hookline could not start: ${(err as Error).message}`);
    if (err instanceof DataDirLockedError) process.stderr.write(`hookline: ${err.message}\n`);
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (signal: string): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    logger.info({ signal }, "signal received");
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

const RECEIVE_FLAGS = new Set(["port", "host", "secret", "status"]);

async function receiveCommand(argv: string[]): Promise<void> {
  let flags: Map<string, string>;
  try {
    const parsed = parseArgs(argv);
    if (parsed.positionals.length > 0) throw new Error(`unexpected argument "${parsed.positionals[0]}"`);
    const unknown = [...parsed.flags.keys()].find((name) => !RECEIVE_FLAGS.has(name));
    if (unknown !== undefined) throw new Error(`unknown flag --${unknown}; receive takes --port, --host, --secret and --status`);
    flags = parsed.flags;
  } catch (err) {
    usageError(`receive: ${(err as Error).message}`);
  }
  const port = Number(flags.get("port") ?? "9000");
  const status = Number(flags.get("status") ?? "200");
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError("--port must be a whole number from 0 to 65535");
  if (!Number.isInteger(status) || status < 100 || status > 599) usageError("--status must be an HTTP status code");
  try {
    await receive({ host: flags.get("host") ?? "127.0.0.1", port, status, secret: flags.get("secret") ?? "" });
  } catch (err) {
    if (err instanceof HooklineError) usageError(err.message);
    usageError(`receive failed: ${(err as Error).message}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serve(rest);
    case "receive":
      if (rest.includes("--help") || rest.includes("-h")) {
        process.stdout.write(USAGE);
        return;
      }
      return receiveCommand(rest);
    case "version":
    case "--version":
      process.stdout.write(`${VERSION}\n`);
      return;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return;
    default:
      if (ADMIN_COMMANDS[command] === undefined) usageError(`unknown command "${command}"; run "hookline help"`);
      try {
        await runAdmin(command, rest);
      } catch (err) {
        if (err instanceof ConnectError) {
          process.stderr.write(`hookline ${command}: ${err.message}\n`);
          process.exit(1);
        }
        usageError(`${command}: ${(err as Error).message}`);
      }
  }
}
