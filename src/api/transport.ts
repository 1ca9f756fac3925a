import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface Listener {
  readonly port: number;
  readonly host: string;
  /** Stops accepting, lets open requests finish for up to graceMs, then cuts what is left. */
  close(graceMs: number): Promise<void>;
}

const HTTP2_PREFACE = "PRI";

/**
 * One cleartext port for every protocol: HTTP/2 (gRPC, Connect, gRPC-Web) and HTTP/1.1
 * (Connect, gRPC-Web, /healthz, /metrics). Node's h2c server cannot fall back to HTTP/1,
 * so a TCP server looks at the first bytes and hands the socket to the right one.
 */
export async function listen(handler: Handler, host: string, port: number): Promise<Listener> {
  const h1 = http.createServer(handler as http.RequestListener);
  h1.requestTimeout = 0; // server streams (WatchDeliveries) may last for hours
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } }, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();
  // h1 never listens itself, so Node does not track its connections (closeIdleConnections is a
  // no-op): count open requests per HTTP/1 socket to know which ones are idle at shutdown.
  const h1Busy = new Map<net.Socket, number>();
  let closing = false;
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    h1Busy.set(socket, (h1Busy.get(socket) ?? 0) + 1);
    if (closing) res.setHeader("connection", "close");
    res.on("close", () => {
      const left = (h1Busy.get(socket) ?? 1) - 1;
      h1Busy.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });

  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first.subarray(0, 3).toString("latin1") === HTTP2_PREFACE) {
        // The HTTP/2 session reads the unshifted bytes itself; resuming would lose them.
        h2.emit("connection", socket);
      } else {
        h1Busy.set(socket, 0);
        socket.on("close", () => h1Busy.delete(socket));
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  tcp.on("error", () => undefined);

  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address() as AddressInfo;

  return {
    port: address.port,
    host: address.address,
    async close(graceMs) {
      closing = true;
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const [socket, busy] of h1Busy) if (busy === 0) socket.destroy();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
