/**
 * What settling a delivery costs nats-server under `sync_interval: always`, by stream
 * retention and ack policy: the question behind the JetStream layout change (docs/jetstream.md).
 * 50 endpoints, one durable pull consumer each (as hookline has), 600 messages of 1 KB per
 * endpoint. Every consumer is drained in claims of 16 through hookline's Puller, and each
 * claim is settled either with an ack per message (`ack_policy: explicit`, today's layout) or
 * with one ack for the claim (`ack_policy: all`, which acknowledges everything up to that
 * message). A last case also writes a 500-byte state per message first, one atomic batch per
 * claim, as hookline records results. Reported: messages settled per second, and per second
 * of nats-server CPU.
 *
 *   node --import tsx bench/micro/ack-layout.ts [perEndpoint=600]
 */
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
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
  ackAll: boolean;
  /** Also write a 500-byte state per message, an atomic batch per claim, before the acks (as hookline records results). */
  states?: boolean;
}

const LAYOUTS: Layout[] = [
  { name: "work queue, ack each message", retention: RetentionPolicy.Workqueue, ackAll: false },
  { name: "limits (a log), ack each message", retention: RetentionPolicy.Limits, ackAll: false },
  { name: "limits (a log), one ack per claim", retention: RetentionPolicy.Limits, ackAll: true },
  { name: "work queue, ack each, state per message", retention: RetentionPolicy.Workqueue, ackAll: false, states: true },
];
const state = new Uint8Array(500).fill(121);

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
      await jsm.consumers.add(stream, {
        durable_name: `ep${e}`,
        filter_subject: subject,
        ack_policy: layout.ackAll ? AckPolicy.All : AckPolicy.Explicit,
        max_ack_pending: 10_000,
      });
    }

    // Late messages (after a claim was answered) are settled as they come, one by one.
    let settled = 0;
    const puller = new Puller(nc, {
      late: (m) => {
        nc.publish(m.reply, "+ACK");
        settled++;
      },
      ended: () => undefined,
    });
    const before = sampleProcess(nats.pid);
    const started = performance.now();
    const deadline = started + 120_000;
    // Round-robin over the endpoints, one claim each, like a scheduler pass.
    while (settled < ENDPOINTS * PER_ENDPOINT && performance.now() < deadline) {
      await Promise.all(
        Array.from({ length: ENDPOINTS }, async (_, e) => {
          const got = await puller.pull(stream, `ep${e}`, CLAIM);
          if (!got || got.length === 0) return;
          if (layout.states) {
            const subject = `STATES.ep${e}`;
            const batch = await js.startBatch(subject, state);
            for (let i = 1; i < got.length - 1; i++) batch.add(subject, state);
            if (got.length > 1) await batch.commit(subject, state);
          }
          if (layout.ackAll) nc.publish((got.at(-1) as { reply: string }).reply, "+ACK");
          else for (const m of got) nc.publish(m.reply, "+ACK");
          settled += got.length;
        }),
      );
      // Consumers whose pull is still open answer at once: let their messages arrive.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await nc.flush();
    const seconds = (performance.now() - started) / 1000;
    // Consumer state is written behind the acks (a few times a second per consumer): count it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = sampleProcess(nats.pid);
    puller.close();
    if (settled < ENDPOINTS * PER_ENDPOINT) throw new Error(`${layout.name}: settled ${settled} of ${ENDPOINTS * PER_ENDPOINT} in 120 s`);
    emit({ bench: "ack-layout", case: `${layout.name}: settled`, opsPerSecond: settled / seconds, unit: "messages" });
    if (before && after && after.cpuMs > before.cpuMs) {
      const cpuSeconds = (after.cpuMs - before.cpuMs) / 1000;
      emit({ bench: "ack-layout", case: `${layout.name}: server cost`, opsPerSecond: settled / cpuSeconds, unit: "messages per nats-server CPU-second" });
    }
  }
} finally {
  await nc.close();
  await nats.stop();
}
