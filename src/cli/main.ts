import { startHookline } from "../app.ts";
import { ConfigError, SETTINGS, loadConfig } from "../config/config.ts";
import { HooklineError } from "../core/errors.ts";
import { createLogger } from "../observability/logger.ts";
import { VERSION } from "../version.ts";
import { ConnectError } from "@connectrpc/connect";
import { ADMIN_COMMANDS, ADMIN_USAGE, runAdmin } from "./admin.ts";
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
  let app;
  try {
    app = await startHookline(config, logger);
  } catch (err) {
    logger.fatal({ err }, `hookline could not start: ${(err as Error).message}`);
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

function flagValue(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  if (i === -1) {
    const inline = argv.find((a) => a.startsWith(`--${name}=`));
    return inline ? inline.slice(name.length + 3) : fallback;
  }
  const value = argv[i + 1];
  if (value === undefined) usageError(`--${name} needs a value`);
  return value;
}

async function receiveCommand(argv: string[]): Promise<void> {
  const port = Number(flagValue(argv, "port", "9000"));
  const status = Number(flagValue(argv, "status", "200"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError("--port must be a whole number from 0 to 65535");
  if (!Number.isInteger(status) || status < 100 || status > 599) usageError("--status must be an HTTP status code");
  try {
    await receive({ host: flagValue(argv, "host", "127.0.0.1"), port, status, secret: flagValue(argv, "secret", "") });
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
