/**
 * What settling a delivery costs nats-server under `sync_interval: always`, by stream
 * retention: the question behind the deliveries stream's layout (docs/jetstream.md).
 * 50 endpoints, one durable pull consumer each (as hookline has), `perEndpoint` messages of
 * 1 KB per endpoint. Every consumer is drained in claims of 16 through hookline's Puller and
 * each message acked. Cases: a work queue (every ack deletes its message); a limits stream
 * whose settled messages are purged in bulk per lane (hookline's layout, AckedPurge); the
 * same without purging (the floor); and the purged layout with a 500-byte state written per
 * message first, one atomic batch per claim, as hookline records results.
 *
 * The clock stops when the server has processed every ack (no consumer has anything pending
 * or unacknowledged), not when the acks left the client: a work queue falls far behind.
 * Reported: messages settled per second, and per second of nats-server CPU.
 *
 *   node --import tsx bench/micro/ack-layout.ts [perEndpoint=600]
 */
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { AckedPurge } from "../../src/store/jetstream/acked-purge.ts";
import { publishInBatches } from "../../src/store/jetstream/batch-publish.ts";
import { Puller } from "../../src/store/jetstream/puller.ts";
import { startNats } from "../../test/helpers/nats.ts";
import { sampleProcess } from "../lib/proc-stats.ts";
import { emit } from "./lib.ts";

const ENDPOINTS = 50;
const PER_ENDPOINT = Number(process.argv[2] ?? 600);
const CLAIM = 16;
const payload = new Uint8Array(1024).fill(120);

interface Layout {
  name: string;
  retention: RetentionPolicy;
  /** Purge each lane's settled prefix every this many settles (hookline's AckedPurge). */
  purgeEvery?: number;
  /** Also write a 500-byte state per message, an atomic batch per claim, before the acks. */
  states?: boolean;
}

const LAYOUTS: Layout[] = [
  { name: "work queue (an ack deletes its message)", retention: RetentionPolicy.Workqueue },
  { name: "limits, settled messages purged per lane every 200", retention: RetentionPolicy.Limits, purgeEvery: 200 },
  { name: "limits, never purged", retention: RetentionPolicy.Limits },
  { name: "limits, purged every 200, and a state per message", retention: RetentionPolicy.Limits, purgeEvery: 200, states: true },
];
const state = new Uint8Array(500).fill(121);

/** Until the server has processed every ack: nothing pending or unacknowledged on any consumer. */
async function settledOnServer(jsm: JetStreamManager, stream: string, deadlineMs: number): Promise<void> {
  while (performance.now() < deadlineMs) {
    let open = 0;
    for await (const info of jsm.consumers.list(stream)) open += info.num_pending + info.num_ack_pending;
    if (open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${stream}: acks not processed within the deadline`);
}

const nats = await startNats();
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
try {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: "STATES", subjects: ["STATES.>"], storage: StorageType.File, allow_atomic: true } as never);
  for (const [n, layout] of LAYOUTS.entries()) {
    const stream = `L${n}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.File, retention: layout.retention, allow_atomic: true } as never);
    for (let e = 0; e < ENDPOINTS; e++) {
      const subject = `${stream}.ep${e}`;
      const batch = await js.startBatch(subject, payload);
      for (let i = 1; i < PER_ENDPOINT - 1; i++) batch.add(subject, payload);
      await batch.commit(subject, payload);
      await jsm.consumers.add(stream, { durable_name: `ep${e}`, filter_subject: subject, ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
    }
    const purge =
      layout.purgeEvery === undefined
        ? undefined
        : new AckedPurge(jsm, {
            stream,
            intervalMs: 200,
            everySettled: layout.purgeEvery,
            maxDelayMs: 60_000,
            recheckMs: 1_000,
            forceAfterSettled: layout.purgeEvery,
            logger: pino({ level: "silent" }),
            // Nothing is handed back here: every lane is safe to purge.
            heldHere: () => Infinity,
            redeliveryMayWait: () => false,
          });
    let settled = 0;
    const ack = (m: { reply: string; consumer: string }): void => {
      nc.publish(m.reply, "+ACK");
      purge?.settled(m.consumer);
      settled++;
    };
    // Late messages (after a claim was answered) are settled as they come.
    const puller = new Puller(nc, { late: ack, ended: () => undefined });
    const before = sampleProcess(nats.pid);
    const started = performance.now();
    const deadline = started + 180_000;
    // Round-robin over the endpoints, one claim each, like a scheduler pass.
    while (settled < ENDPOINTS * PER_ENDPOINT && performance.now() < deadline) {
      await Promise.all(
        Array.from({ length: ENDPOINTS }, async (_, e) => {
          const got = await puller.pull(stream, `ep${e}`, CLAIM);
          if (!got || got.length === 0) return;
          if (layout.states) {
            // As hookline writes them: atomic batches, a plain publish when one is refused.
            const states = got.map((_, i) => ({ subject: `STATES.ep${e}.${i}`, data: state }));
            await publishInBatches(js, states, (m) => js.publish(m.subject, m.data));
          }
          for (const m of got) ack(m);
        }),
      );
      // Consumers whose pull is still open answer at once: let their messages arrive.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await settledOnServer(jsm, stream, deadline);
    await purge?.round();
    const seconds = (performance.now() - started) / 1000;
    const after = sampleProcess(nats.pid);
    puller.close();
    purge?.close();
    const { state: left } = await jsm.streams.info(stream);
    emit({ bench: "ack-layout", case: `${layout.name}: settled (${left.messages} left in the stream)`, opsPerSecond: settled / seconds, unit: "messages" });
    if (before && after && after.cpuMs > before.cpuMs) {
      emit({ bench: "ack-layout", case: `${layout.name}: server cost`, opsPerSecond: settled / ((after.cpuMs - before.cpuMs) / 1000), unit: "messages per nats-server CPU-second" });
    }
    await jsm.streams.delete(stream);
  }
} finally {
  await nc.close();
  await nats.stop();
}
