import { readFile } from "node:fs/promises";
import { UsageError, text, type Flag, type FlagValues } from "../command.ts";

export const PAYLOAD_FLAGS: Record<string, Flag> = {
  data: { type: "string", value: "JSON", help: "the payload, as JSON text" },
  file: { type: "string", value: "PATH", help: 'read the JSON payload from a file ("-" = stdin)' },
};

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The payload from --data, --file or (when required and piped) stdin, checked to be JSON so a
 * typo is caught here with the flag named rather than as a server error.
 */
export async function readPayload(flags: FlagValues, required: boolean): Promise<Uint8Array | undefined> {
  if (flags.data !== undefined && flags.file !== undefined) throw new UsageError("pass either --data or --file, not both");
  let bytes: Uint8Array;
  let source: string;
  if (flags.data !== undefined) {
    bytes = new TextEncoder().encode(text(flags, "data"));
    source = "--data";
  } else if (flags.file !== undefined) {
    const path = text(flags, "file");
    source = path === "-" ? "stdin" : `--file ${path}`;
    try {
      bytes = path === "-" ? await readStdin() : await readFile(path);
    } catch (err) {
      throw new UsageError(`--file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (required && !process.stdin.isTTY) {
    bytes = await readStdin();
    source = "stdin";
  } else if (required) {
    throw new UsageError("no payload: pass --data '{…}', --file PATH, or pipe JSON on stdin");
  } else {
    return undefined;
  }
  try {
    JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new UsageError(`${source} is not JSON: ${(err as Error).message}`);
  }
  return bytes;
}
