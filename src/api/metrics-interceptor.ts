import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Metrics } from "../observability/metrics.ts";
import { codeName } from "./errors.ts";

type Finish = (code: string) => void;

/**
 * Server interceptor counting every RPC by its final code, with its duration. Placed outside
 * the error interceptor, it sees the codes clients see (UNAUTHENTICATED included). A unary
 * call counts when it completes, a stream when it ends; a stream the client abandons counts
 * as "canceled".
 */
export function metricsInterceptor(metrics: Pick<Metrics, "rpcRequests" | "rpcSeconds">): Interceptor {
  return (next) => async (req) => {
    const labels = { service: req.service.typeName, method: req.method.name };
    const started = performance.now();
    let finished = false;
    const finish: Finish = (code) => {
      if (finished) return;
      finished = true;
      metrics.rpcRequests.inc({ ...labels, code });
      metrics.rpcSeconds.observe(labels, (performance.now() - started) / 1000);
    };
    let res;
    try {
      res = await next(req);
    } catch (err) {
      finish(codeOf(err));
      throw err;
    }
    if (!res.stream) {
      finish("ok");
      return res;
    }
    return { ...res, message: counted(res.message, req.signal, finish) };
  };
}

async function* counted<T>(stream: AsyncIterable<T>, signal: AbortSignal, finish: Finish): AsyncIterable<T> {
  let code = codeName(Code.Canceled);
  try {
    yield* stream;
    // A watch ends quietly when its client goes away: that is a cancel (or deadline), not ok.
    code = signal.aborted ? codeOf(signal.reason) : "ok";
  } catch (err) {
    code = codeOf(err);
    throw err;
  } finally {
    finish(code);
  }
}

function codeOf(err: unknown): string {
  // The error interceptor inside has mapped handler errors; from() covers aborts and the rest.
  return codeName(ConnectError.from(err).code);
}
