import { ConnectError } from "@connectrpc/connect";
import { SETTINGS } from "../config/config.ts";
import { VERSION } from "../version.ts";
import { UsageError, commandHelp, didYouMean, parseInvocation, type Command } from "./command.ts";
import { deliveryCommands } from "./commands/deliveries.ts";
import { endpointCommands } from "./commands/endpoints.ts";
import { eventTypeCommands } from "./commands/event-types.ts";
import { eventCommands } from "./commands/events.ts";
import { keyCommands } from "./commands/keys.ts";
import { receiveCommand } from "./commands/receive.ts";
import { statsCommand } from "./commands/stats.ts";
import { tenantCommands } from "./commands/tenants.ts";

export const COMMANDS: Command[] = [
  ...tenantCommands,
  ...endpointCommands,
  ...eventCommands,
  ...eventTypeCommands,
  ...deliveryCommands,
  statsCommand,
  ...keyCommands,
  receiveCommand,
];

/** A group name alone runs its list command: `hookline endpoints` = `hookline endpoints list`. */
const GROUP_DEFAULTS: Record<string, string> = { tenants: "list", endpoints: "list", events: "list", deliveries: "list", keys: "list", "event-types": "list" };

const SERVE_USAGE = `usage: hookline serve [flags]

Run the server: gRPC, gRPC-Web and Connect on one port, plus /healthz and /metrics.
Each flag is also HOOKLINE_<NAME> in the environment, or a camelCase key of the --config JSON file.

  --config FILE                   JSON file of settings
${SETTINGS.map((s) => `  --${s.flag.padEnd(30)}${s.help}`).join("\n")}
  -h, --help                      show this help
`;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `hookline ${VERSION}: gRPC-first webhook delivery engine

usage: hookline COMMAND [ARGS] [flags]      (hookline COMMAND --help for its flags)

  ${"serve".padEnd(width)}run the server
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary.split(/(?<=\.) /)[0]}`).join("\n")}
  ${"version".padEnd(width)}print the version

Commands that talk to a server read --server (HOOKLINE_SERVER, default http://127.0.0.1:8080)
and --api-key (HOOKLINE_API_KEY).
`;
}

/** Finds the command the leading words name; the rest of argv is its arguments. */
function resolve(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  const [first, second] = argv;
  const two = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (two) return { command: two, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === first);
  if (one) return { command: one, rest: argv.slice(1) };
  const fallback = first === undefined ? undefined : GROUP_DEFAULTS[first];
  if (fallback && (second === undefined || second.startsWith("-"))) {
    const listed = COMMANDS.find((c) => c.name === `${first} ${fallback}`);
    if (listed) return { command: listed, rest: argv.slice(1) };
  }
  return undefined;
}

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  // `hookline deliveries | head`: a closed pipe ends the command quietly.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const [first] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    process.stdout.write(usage());
    return;
  }
  if (first === "version" || first === "--version") {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (first === "serve") {
    if (argv.includes("--help") || argv.includes("-h")) {
      process.stdout.write(SERVE_USAGE);
      return;
    }
    // The server graph loads only here.
    const { serve } = await import("./serve.ts");
    return serve(argv.slice(1));
  }
  const found = resolve(argv);
  if (!found) {
    const words = [...new Set(COMMANDS.flatMap((c) => [c.name, c.name.split(" ")[0] as string]))];
    const typed = argv.slice(0, 2).filter((w) => !w.startsWith("-")).join(" ");
    const guess = didYouMean(typed, words) ?? didYouMean(first, words);
    fail(2, `hookline: unknown command "${typed}"${guess ? `; did you mean "${guess}"?` : ""} (hookline help lists them)`);
  }
  const { command, rest } = found;
  try {
    const invocation = parseInvocation(command, rest);
    if (invocation === "help") {
      process.stdout.write(commandHelp(command));
      return;
    }
    await command.run(invocation);
  } catch (err) {
    if (err instanceof UsageError) fail(2, `hookline ${command.name}: ${err.message}`);
    if (err instanceof ConnectError) fail(1, `hookline ${command.name}: ${err.message}`);
    fail(1, `hookline ${command.name}: ${(err as Error).message}`);
  }
}
