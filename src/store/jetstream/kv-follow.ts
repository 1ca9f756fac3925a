import type { KV, KvWatchEntry } from "@nats-io/kv";

/**
 * Follows a KV bucket: hands every current entry to `apply`, resolves once that copy is
 * complete, and keeps handing over later changes. Resolves to the function that stops it;
 * `ended` hears of a watch that failed (the copy then no longer follows the bucket).
 */
export async function followBucket(kv: KV, apply: (entry: KvWatchEntry) => void, ended: (err: unknown) => void): Promise<() => void> {
  const status = await kv.status();
  const watch = await kv.watch({ key: ">" });
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  if (status.values === 0) markReady();
  void (async () => {
    for await (const entry of watch) {
      apply(entry);
      if ((entry.delta ?? 0) === 0) markReady();
    }
  })().catch(ended);
  await ready;
  return () => watch.stop();
}
