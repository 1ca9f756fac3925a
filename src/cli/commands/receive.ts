import { HooklineError } from "../../core/errors.ts";
import { UsageError, integer, text, type Command } from "../command.ts";
import { receive } from "../receive.ts";

export const receiveCommand: Command = {
  name: "receive",
  summary: "Run a webhook receiver that prints each delivery and whether its signature verifies.",
  flags: {
    port: { type: "string", value: "PORT", help: "port to listen on (0 picks one)", default: "9000" },
    host: { type: "string", value: "ADDRESS", help: "address to listen on", default: "127.0.0.1" },
    secret: { type: "string", value: "whsec_…", help: "endpoint secret to verify v1 (HMAC) signatures with" },
    "public-key": { type: "string", value: "whpk_…", help: "public key of an ed25519 endpoint, to verify v1a signatures with" },
    status: { type: "string", value: "CODE", help: "HTTP status to answer with", default: "200" },
  },
  async run({ flags }) {
    const options = {
      host: text(flags, "host", "127.0.0.1"),
      port: integer(flags, "port", 9000, 0, 65535),
      status: integer(flags, "status", 200, 100, 599),
      secret: text(flags, "secret"),
      publicKey: text(flags, "public-key"),
    };
    try {
      await receive(options);
    } catch (err) {
      if (err instanceof HooklineError) throw new UsageError(err.message);
      throw err;
    }
  },
};
