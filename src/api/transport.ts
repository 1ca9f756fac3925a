import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import type tls from "node:tls";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;

export interface Listener {
  readonly port: number;
  readonly host: string;
  /** Stops accepting, lets open requests finish for up to graceMs, then cuts what is left. */
  close(graceMs: number): Promise<void>;
}

export interface EdgeOptions {
  /** A connection without an open request or stream is closed after this long. */
  idleTimeoutMs: number;
  /** A new connection must complete its first request headers (HTTP/1) or its TLS handshake and HTTP/2 preface within this. */
  headerTimeoutMs: number;
  /** Connections beyond this many are closed as soon as they are accepted. */
  maxConnections: number;
  /** PEM certificate chain and key: the port speaks TLS only (ALPN h2 and http/1.1). */
  tls?: { cert: Buffer; key: Buffer };
}

const HTTP2_PREFACE = "PRI";

/**
 * One port for every protocol: HTTP/2 (gRPC, Connect, gRPC-Web) and HTTP/1.1 (Connect,
 * gRPC-Web, /healthz, /metrics). In cleartext Node's h2c server cannot fall back to HTTP/1,
 * so a TCP server looks at the first bytes and hands the socket to the right one; with TLS,
 * ALPN picks the protocol. Every connection is bounded in time while it has nothing open.
 */
export async function listen(handler: Handler, host: string, port: number, edge: EdgeOptions): Promise<Listener> {
  const h2Settings: http2.ServerOptions = { settings: { maxConcurrentStreams: 1000 } };
  const secure = edge.tls ? http2.createSecureServer({ ...h2Settings, ...edge.tls, allowHTTP1: true, handshakeTimeout: edge.headerTimeoutMs }) : undefined;
  const h2 = secure ?? http2.createServer(h2Settings);
  const h1 = secure ? undefined : http.createServer();
  const server: net.Server = secure ?? net.createServer();
  const tracker = new ConnectionTracker(edge);

  const onRequest = (req: Request, res: Response): void => {
    if (req instanceof http2.Http2ServerRequest) endAbandonedStream(req);
    else tracker.h1Request(req, res as http.ServerResponse);
    handler(req, res);
  };
  h2.on("request", onRequest);
  h1?.on("request", onRequest);
  h2.on("session", (session) => tracker.h2Session(session));
  if (h1) {
    // h1 never listens, so Node enforces none of its header or request timeouts: the tracker
    // bounds headers and idleness, and server streams (WatchDeliveries) may last for hours.
    h1.requestTimeout = 0;
    h1.keepAliveTimeout = edge.idleTimeoutMs; // also announced to clients in Keep-Alive
  }
  server.maxConnections = edge.maxConnections;

  if (secure) {
    server.on("connection", (socket: net.Socket) => tracker.accepted(socket, false));
    // A client that does not speak TLS, or a failed handshake: nothing to answer.
    secure.on("tlsClientError", (_err, socket: tls.TLSSocket) => socket.destroy());
    secure.on("secureConnection", (socket: tls.TLSSocket) => {
      // handshakeTimeout bounded the handshake; HTTP/1 gets a timer for its first headers.
      if (socket.alpnProtocol !== "h2") tracker.h1Connection(socket, true);
    });
  } else {
    server.on("connection", (socket: net.Socket) => {
      tracker.accepted(socket, true);
      socket.on("error", () => socket.destroy());
      socket.once("data", (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        if (first.subarray(0, 3).toString("latin1") === HTTP2_PREFACE) {
          // The HTTP/2 session reads the unshifted bytes itself; resuming would lose them.
          h2.emit("connection", socket);
          tracker.settled(socket); // the session's idle timer takes over
        } else {
          tracker.h1Connection(socket, false);
          h1?.emit("connection", socket);
          socket.resume();
        }
      });
    });
  }
  server.on("error", () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  return {
    port: address.port,
    host: address.address,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      tracker.closeIdle();
      const timer = setTimeout(() => tracker.destroyAll(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}

/**
 * An HTTP/2 request whose body the handler stopped reading (a message over the size limit,
 * a broken envelope) would keep its stream open: the client keeps data queued that nobody
 * reads, and Node never sends the CANCEL it queues when the request is destroyed. Instead the
 * body is left unread and, once the whole response (trailers included) is out, the stream is
 * reset with NO_ERROR, which tells the client to stop sending (RFC 9113 §8.1).
 */
function endAbandonedStream(req: http2.Http2ServerRequest): void {
  const stream = req.stream;
  const iterate = (): AsyncIterator<unknown> => req.iterator({ destroyOnReturn: false });
  Object.defineProperty(req, Symbol.asyncIterator, { value: iterate, configurable: true });
  const reset = (): void => {
    if (!req.readableEnded && !stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  };
  // The response's own wantTrailers listener sends the trailers. The reset waits for a PING
  // round trip, so the client has taken in the trailers before it learns the stream is gone
  // (a client that sees the reset first reports CANCEL instead of the status).
  stream.on("wantTrailers", () =>
    setImmediate(() => {
      if (req.readableEnded || stream.closed || stream.destroyed) return;
      try {
        if (!stream.session?.ping(reset)) reset();
      } catch {
        reset();
      }
    }),
  );
}

/**
 * Keeps every connection bounded in time while nothing is open on it: a new connection gets
 * headerTimeoutMs for its first request (HTTP/1) or its HTTP/2 session; after that a
 * connection with no open request or stream is closed after idleTimeoutMs. Open requests and
 * streams are never cut: long server streams may be quiet for hours.
 */
class ConnectionTracker {
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Map<net.Socket, NodeJS.Timeout>();
  private readonly h1Busy = new Map<net.Socket, number>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private closing = false;

  constructor(private readonly edge: EdgeOptions) {}

  accepted(socket: net.Socket, armHeaderTimer: boolean): void {
    this.sockets.add(socket);
    if (armHeaderTimer) this.arm(socket, this.edge.headerTimeoutMs);
    socket.on("close", () => {
      this.sockets.delete(socket);
      this.disarm(socket);
      this.h1Busy.delete(socket);
    });
  }

  /** The socket speaks HTTP/1; a new timer for its first headers, or the one set at accept. */
  h1Connection(socket: net.Socket, newTimer: boolean): void {
    if (newTimer) this.accepted(socket, true);
    this.h1Busy.set(socket, 0);
  }

  /** The connection now has a protocol that bounds its own idleness. */
  settled(socket: net.Socket): void {
    this.disarm(socket);
  }

  h1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    // A body the handler stops reading stays unread; the connection ends after the response.
    const iterate = (): AsyncIterator<unknown> => req.iterator({ destroyOnReturn: false });
    Object.defineProperty(req, Symbol.asyncIterator, { value: iterate, configurable: true });
    this.h1Busy.set(socket, (this.h1Busy.get(socket) ?? 0) + 1);
    this.disarm(socket);
    if (this.closing) res.setHeader("connection", "close");
    // Answered before its body was read (a refused content type, say): the connection ends
    // after this response, so say so in it. A client that reused it for its next request
    // would otherwise see that request fail ("other side closed").
    const writeHead = res.writeHead;
    res.writeHead = function (this: http.ServerResponse, ...args: Parameters<typeof writeHead>) {
      if (!req.complete) this.shouldKeepAlive = false;
      return writeHead.apply(this, args);
    } as typeof writeHead;
    res.on("close", () => {
      const left = (this.h1Busy.get(socket) ?? 1) - 1;
      this.h1Busy.set(socket, left);
      if (!req.complete) socket.destroySoon();
      if (left > 0) return;
      if (this.closing) socket.destroy();
      // Waiting for the next request: idle, and its headers must arrive within the same bound.
      else this.arm(socket, this.edge.idleTimeoutMs);
    });
  }

  h2Session(session: http2.ServerHttp2Session): void {
    this.sessions.add(session);
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      idle = setTimeout(() => session.close(), this.edge.idleTimeoutMs);
      idle.unref();
    };
    armIdle();
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      open++;
      clearTimeout(idle);
      stream.once("close", () => {
        open--;
        if (open === 0 && !session.closed && !session.destroyed) armIdle();
      });
    });
    session.on("error", () => session.destroy());
    session.once("close", () => {
      clearTimeout(idle);
      this.sessions.delete(session);
    });
    if (this.closing) session.close();
  }

  /** Shutdown: no new requests; idle connections go now, busy ones after their request. */
  closeIdle(): void {
    this.closing = true;
    for (const session of this.sessions) session.close();
    for (const [socket, busy] of this.h1Busy) if (busy === 0) socket.destroy();
    // Accepted but not yet speaking any protocol.
    for (const socket of this.sockets) if (!this.h1Busy.has(socket) && this.timers.has(socket)) socket.destroy();
  }

  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
  }

  private arm(socket: net.Socket, ms: number): void {
    this.disarm(socket);
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    this.timers.set(socket, timer);
  }

  private disarm(socket: net.Socket): void {
    const timer = this.timers.get(socket);
    if (timer) clearTimeout(timer);
    this.timers.delete(socket);
  }
}
