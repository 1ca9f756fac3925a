import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.ts";
import { echo } from "../core/errors.ts";

/**
 * Tracks whether the server takes work: not while shutting down, nor while the store cannot
 * write (disk full), until a write succeeds again. Watch streams every change.
 */
export class HealthState {
  private serving = true;
  private storeProblem: string | undefined;
  private readonly watchers = new Set<() => void>();

  get status(): Status {
    return this.serving && this.storeProblem === undefined ? Status.SERVING : Status.NOT_SERVING;
  }

  /** Why the server does not serve, for /healthz; undefined when it does. */
  get reason(): { status: string; reason?: string } | undefined {
    if (!this.serving) return { status: "shutting_down" };
    if (this.storeProblem !== undefined) return { status: "store_unavailable", reason: this.storeProblem };
    return undefined;
  }

  setServing(serving: boolean): void {
    this.serving = serving;
    this.wakeAll();
  }

  /** The store failed to write (problem) or wrote again (undefined). */
  setStoreProblem(problem: string | undefined): void {
    if (problem === this.storeProblem) return;
    this.storeProblem = problem;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of this.watchers) wake();
  }

  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.watchers.delete(wake);
        resolve();
      };
      this.watchers.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    });
  }
}

/** grpc.health.v1.Health for "" (the server) and every hookline service name. */
export function healthService(state: HealthState, serviceNames: readonly string[]): ServiceImpl<typeof Health> {
  const known = new Set(["", ...serviceNames]);
  const statusOf = (service: string): Status => (known.has(service) ? state.status : Status.SERVICE_UNKNOWN);
  return {
    check(req) {
      // The health checking protocol: Check on an unknown service fails with NOT_FOUND
      // (Watch, below, answers SERVICE_UNKNOWN instead).
      if (!known.has(req.service)) throw new ConnectError(`unknown service "${echo(req.service)}"`, Code.NotFound);
      return { status: statusOf(req.service) };
    },
    async *watch(req, ctx) {
      let last: Status | undefined;
      while (!ctx.signal.aborted) {
        const status = statusOf(req.service);
        if (status !== last) {
          last = status;
          yield { status };
        }
        await state.changed(ctx.signal);
      }
    },
  };
}
