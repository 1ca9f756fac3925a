import { startHookline } from "../app.ts";
import { ConfigError, loadConfig } from "../config/config.ts";
import { createLogger } from "../observability/logger.ts";
import { StartupError } from "../preflight.ts";

/** Exit code 2: the configuration is unusable. */
function usageError(message: string): never {
  process.stderr.write(`hookline serve: ${message}\n`);
  process.exit(2);
}

/** `hookline serve`: loaded only for this command, so the operator commands start fast. */
export async function serve(argv: string[]): Promise<void> {
  let config;
  try {
    config = loadConfig({ argv, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) usageError(err.message);
    throw err;
  }
  const logger = createLogger(config.logLevel, config.logFormat);
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
    if (err instanceof StartupError) {
      // A known cause: one line that names the fix, no stack trace.
      logger.fatal(`hookline could not start: ${err.message}`);
      process.stderr.write(`hookline serve: ${err.message}\n`);
    } else {
      logger.fatal({ err }, `hookline could not start: ${(err as Error).message}`);
    }
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
