/**
 * Claim-shaped pulls from a JetStream work-queue consumer, two ways: hookline's Puller
 * (src/store/jetstream/puller.ts: a `no_wait` request over one shared inbox, answered once
 * nothing more arrives for 3 ms) and @nats-io/jetstream's `consumer.fetch` (an expiry of at
 * least 1 s, an inbox subscription per fetch) with `JsMsg.ack()`. Both drain the same backlog
 * in claims of 16 and ack each message; then both are timed on an empty consumer, which is
 * what a claim for an idle endpoint meets. Against a local nats-server (`sync_interval: always`).
 *
 *   node --import tsx bench/micro/pull.ts [messages=5000]
 */
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Puller } from "../../src/store/jetstream/puller.ts";
import { startNats } from "../../test/helpers/nats.ts";
import { emit } from "./lib.ts";

const MESSAGES = Number(process.argv[2] ?? 5_000);
const CLAIM = 16;
const EMPTY_CLAIMS = 5;
/** Longer than the Puller's pull expiry (100 ms): the server has ended the last pull. */
const PULL_OPEN_MS = 150;
const payload = new Uint8Array(1024).fill(120);

const nats = await startNats();
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
try {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);

  /** A fresh work-queue stream holding `MESSAGES` messages, with one durable pull consumer. */
  const fill = async (name: string): Promise<void> => {
    await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File, retention: RetentionPolicy.Workqueue, allow_atomic: true } as never);
    for (let start = 0; start < MESSAGES; start += 500) {
      const batch = await js.startBatch(`${name}.m`, payload);
      for (let i = start + 1; i < Math.min(start + 500, MESSAGES) - 1; i++) batch.add(`${name}.m`, payload);
      await batch.commit(`${name}.m`, payload);
    }
    await jsm.consumers.add(name, { durable_name: "c", ack_policy: AckPolicy.Explicit, max_ack_pending: 10_000 });
  };

  // hookline's Puller.
  await fill("PULLER");
  // Messages that come after their claim was answered are acked (and counted) as they come;
  // a consumer whose pull is still open is asked again once that pull has ended.
  let drained = 0;
  let ended: (() => void) | undefined;
  const puller = new Puller(nc, {
    late: (m) => {
      nc.publish(m.reply, "+ACK");
      drained++;
    },
    ended: () => ended?.(),
  });
  let started = performance.now();
  while (drained < MESSAGES) {
    const got = await puller.pull("PULLER", "c", CLAIM);
    if (got === undefined) {
      await new Promise<void>((resolve) => (ended = resolve));
      continue;
    }
    for (const m of got) nc.publish(m.reply, "+ACK");
    drained += got.length;
  }
  emit({ bench: "pull", case: `Puller, claims of ${CLAIM}, ack each`, opsPerSecond: MESSAGES / ((performance.now() - started) / 1000), unit: "messages" });
  // Only the claim's own wait is timed, as the scheduler sees it; the pull left open on the
  // server is waited out between claims, untimed.
  let answering = 0;
  for (let i = 0; i < EMPTY_CLAIMS; i++) {
    const asked = performance.now();
    const got = await puller.pull("PULLER", "c", CLAIM);
    answering += performance.now() - asked;
    if (got === undefined) throw new Error("a pull was still open: the wait between claims is too short");
    await new Promise((resolve) => setTimeout(resolve, PULL_OPEN_MS));
  }
  emit({ bench: "pull", case: "Puller, claims on an empty consumer", opsPerSecond: EMPTY_CLAIMS / (answering / 1000), unit: "claims" });
  puller.close();

  // The library's consumer.fetch and JsMsg.ack().
  await fill("FETCH");
  const consumer = await js.consumers.get("FETCH", "c");
  started = performance.now();
  for (let fetched = 0; fetched < MESSAGES; ) {
    const batch = await consumer.fetch({ max_messages: CLAIM, expires: 1_000 });
    for await (const m of batch) {
      m.ack();
      fetched++;
    }
  }
  emit({ bench: "pull", case: `consumer.fetch, claims of ${CLAIM}, ack each`, opsPerSecond: MESSAGES / ((performance.now() - started) / 1000), unit: "messages" });
  started = performance.now();
  for (let i = 0; i < EMPTY_CLAIMS; i++) for await (const m of await consumer.fetch({ max_messages: CLAIM, expires: 1_000 })) m.ack();
  emit({ bench: "pull", case: "consumer.fetch, claims on an empty consumer", opsPerSecond: EMPTY_CLAIMS / ((performance.now() - started) / 1000), unit: "claims" });
} finally {
  await nc.close();
  await nats.stop();
}
