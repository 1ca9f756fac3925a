/** A bare HTTP receiver for the worker round-trip micro-benchmark: 200 to everything, no checks. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exitWithParent, send } from "../lib/child.ts";

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-length": "0" });
    res.end();
  });
});
server.keepAliveTimeout = 120_000;
server.listen(0, "127.0.0.1", () => send({ type: "ready", port: (server.address() as AddressInfo).port }));
exitWithParent();
