import http from "node:http";
import { invalidArgument } from "../core/errors.ts";
import { checkSecret, publicKeyBytes, secretKey } from "../core/secrets.ts";
import { verifyAsymmetricSignature, verifySignature, type VerifyResult } from "../core/signing.ts";

export interface ReceiveOptions {
  host: string;
  port: number;
  secret: string;
  /** An ED25519 endpoint's "whpk_" public key: checks v1a signatures instead of v1. */
  publicKey?: string;
  /** Status code to answer with. */
  status: number;
}

/** `hookline receive`: a webhook receiver that prints each delivery and whether its signature verifies. */
export async function receive(options: ReceiveOptions, out: NodeJS.WritableStream = process.stdout): Promise<http.Server> {
  const publicKey = options.publicKey ?? "";
  if (options.secret !== "" && publicKey !== "") throw invalidArgument("--public-key", "give either --secret or --public-key, not both");
  type Check = (headers: { id: string; timestamp: string; signature: string }, body: Buffer, nowSeconds: number) => VerifyResult;
  let check: Check | undefined;
  if (options.secret !== "") {
    const key = secretKey(checkSecret("--secret", options.secret));
    check = (headers, body, now) => verifySignature(key, headers, body, now);
  } else if (publicKey !== "") {
    const key = publicKeyBytes("--public-key", publicKey);
    check = (headers, body, now) => verifyAsymmetricSignature(key, headers, body, now);
  }
  let count = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const header = (name: string): string => {
        const v = req.headers[name];
        return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
      };
      const verdict = check?.(
        { id: header("webhook-id"), timestamp: header("webhook-timestamp"), signature: header("webhook-signature") },
        body,
        Math.floor(Date.now() / 1000),
      );
      count++;
      const signature = verdict === undefined ? "not checked (no --secret or --public-key)" : verdict.ok ? "valid" : `INVALID (${verdict.reason})`;
      const preview = body.length > 500 ? `${body.subarray(0, 500).toString()}…` : body.toString();
      out.write(
        `#${count} ${new Date().toISOString()} ${req.method} ${req.url} webhook-id=${header("webhook-id")} signature ${signature}\n  ${preview}\n`,
      );
      res.writeHead(verdict && !verdict.ok ? 401 : options.status, { "content-type": "text/plain" });
      res.end(verdict && !verdict.ok ? "bad signature\n" : "ok\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as { port: number };
  out.write(`hookline receive: listening on http://${options.host}:${address.port}/ (signature check ${check ? "on" : "off"})\n`);
  return server;
}
