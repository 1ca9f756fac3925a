/**
 * Ingest limit on JetStream: plain async publishes of the same payloads, one message per
 * event, to a fresh file stream on a nats-server configured like hookline's (the same
 * `sync_interval`), with `inFlight` awaiting their ack at once. No RPC, validation, fan-out
 * or batching in the timed loop. Reads JetStreamIngestConfig on stdin.
 */
import { jetstream, jetstreamManager, StorageType, type PubAck } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { exitWithParent, readJsonInput, send } from "../lib/child.ts";
import { encodePayload } from "../lib/payload.ts";
import type { JetStreamIngestConfig, JetStreamIngestDone } from "../lib/protocol.ts";

const config = await readJsonInput<JetStreamIngestConfig>();
exitWithParent();

const nc = await connect({ servers: config.natsUrl, noAsyncTraces: true });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc, { timeout: 30_000 });
await jsm.streams.add({ name: "BENCH_RAW", subjects: ["raw.>"], storage: StorageType.File, num_replicas: 1 });
const payloads = Array.from({ length: Math.min(config.events, 1024) }, (_, i) => encodePayload({ seq: i, t: Date.now() }, config.payloadBytes));

const started = performance.now();
let next = 0;
// `inFlight` lanes, each publishing its next message once the last one is acked.
const lane = async (): Promise<void> => {
  while (next < config.events) {
    const seq = next++;
    const ack: PubAck = await js.publish(`raw.${seq}`, payloads[seq % payloads.length]);
    if (ack.duplicate) throw new Error("a raw publish was answered as a duplicate");
  }
};
await Promise.all(Array.from({ length: Math.min(config.inFlight, config.events) }, lane));
const seconds = (performance.now() - started) / 1000;
await jsm.streams.delete("BENCH_RAW");
await nc.close();

const done: JetStreamIngestDone = { type: "done", events: config.events, seconds, eventsPerSecond: config.events / seconds };
send(done as unknown as Record<string, unknown>);
