import http from "node:http";

/** Tiny loopback JSON-over-HTTP client for the fleet's control endpoint. */
export async function requestJson<T>(port: number, method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
  const text = await requestText(port, method, path, body, timeoutMs);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${method} ${path}: bad JSON: ${(err as Error).message}`);
  }
}

/**
 * One request on its own connection (Connection: close), so no idle keep-alive socket is
 * left behind to hold up a server's graceful shutdown.
 */
export function requestText(port: number, method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 30_000): Promise<string> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) >= 300) return reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text}`));
          resolve(text);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Reads a request body as JSON (control endpoint side). */
export function readJsonBody<T>(req: http.IncomingMessage): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve((text === "" ? {} : JSON.parse(text)) as T);
      } catch (err) {
        reject(err as Error);
      }
    });
    req.on("error", reject);
  });
}
