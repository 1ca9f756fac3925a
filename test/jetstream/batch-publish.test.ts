import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BATCH, publishInBatches, publishOptions, type OutMessage } from "../../src/store/jetstream/batch-publish.ts";
import { startNats, type NatsServer } from "../helpers/nats.ts";

describe("publishInBatches against a real nats-server", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let streams = 0;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const stream = async (): Promise<string> => {
    const name = `T${++streams}`;
    await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File, allow_atomic: true, duplicate_window: 60e9 } as never);
    return name;
  };
  const bodies = async (name: string): Promise<string[]> => {
    const { state } = await jsm.streams.info(name);
    const out: string[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) out.push((await jsm.streams.getMessage(name, { seq }))?.string() ?? "(missing)");
    return out;
  };
  const messages = (name: string, n: number, id?: (i: number) => string): OutMessage[] =>
    Array.from({ length: n }, (_, i) => ({ subject: `${name}.${i % 7}`, data: new TextEncoder().encode(`m${i}`), ...(id && { messageId: id(i) }) }));

  it("stores every message, in order, in batches of at most MAX_BATCH, without the fallback", async () => {
    const name = await stream();
    const fallbacks: number[] = [];
    const n = MAX_BATCH * 2 + 3;
    await publishInBatches(js, messages(name, n), async (_m, i) => void fallbacks.push(i));
    expect(fallbacks).toEqual([]);
    const stored = await bodies(name);
    expect(stored).toHaveLength(n);
    expect(new Set(stored).size).toBe(n);
    // Batches may land in any order, but each is stored contiguously, in its own order.
    for (let start = 0; start < n; start += MAX_BATCH) {
      const at = stored.indexOf(`m${start}`);
      const size = Math.min(MAX_BATCH, n - start);
      expect(stored.slice(at, at + size)).toEqual(Array.from({ length: size }, (_, k) => `m${start + k}`));
    }
  });

  it("a batch holding a message id the stream has seen is refused whole, then written one by one", async () => {
    const name = await stream();
    await js.publish(`${name}.0`, "earlier", { msgID: "k3" });
    const duplicates: number[] = [];
    await publishInBatches(js, messages(name, 5, (i) => `k${i}`), async (m, i) => {
      const ack = await js.publish(m.subject, m.data, publishOptions(m));
      if (ack.duplicate) duplicates.push(i);
    });
    expect(duplicates).toEqual([3]);
    expect(await bodies(name)).toEqual(["earlier", "m0", "m1", "m2", "m4"]);
  });

  it("a single message goes straight to the fallback, which sees its ack", async () => {
    const name = await stream();
    const seen: number[] = [];
    await publishInBatches(js, messages(name, 1, () => "only"), async (m, i) => {
      await js.publish(m.subject, m.data, publishOptions(m));
      seen.push(i);
    });
    expect(seen).toEqual([0]);
    expect(await bodies(name)).toEqual(["m0"]);
  });
});
