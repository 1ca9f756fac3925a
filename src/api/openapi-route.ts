import { readFileSync } from "node:fs";

/** Where the OpenAPI document of the Connect JSON routes is served. */
export const OPENAPI_PATH = "/openapi.json";

/** Generated from the protos by scripts/openapi.ts and committed. */
const DOCUMENT = new URL("../../openapi/openapi.json", import.meta.url);

/** What the route needs of an HTTP/1 or HTTP/2 response. */
interface Reply {
  writeHead(statusCode: number, headers: Record<string, string>): unknown;
  end(body: string | Uint8Array): unknown;
}

let cached: Buffer | undefined;

/** GET /openapi.json: the committed document, read once. */
export function serveOpenApi(res: Reply): void {
  try {
    cached ??= readFileSync(DOCUMENT);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("openapi.json is missing from this installation; generate it with `npm run openapi`\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": String(cached.length) });
  res.end(cached);
}
