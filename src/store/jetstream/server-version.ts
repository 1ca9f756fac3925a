/**
 * The oldest nats-server hookline runs on: 2.12 is the first with atomic batch publish, which
 * lets many events or deliveries share one synced write under `sync_interval: always` (2.10+),
 * the durability hookline promises needs on a single node (docs/jetstream.md). Tests and bench
 * run on the version ensure-nats-server.sh builds.
 */
export const MIN_NATS_SERVER = "2.12.0";

/** A version string such as "2.15.2" or "v2.11.0-RC.1" as one comparable number; undefined when unreadable. */
function rank(version: string): number | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return m ? Number(m[1]) * 1e6 + Number(m[2]) * 1e3 + Number(m[3]) : undefined;
}

/** Why a server of this version cannot be used, or undefined when it can. */
export function unsupportedServer(version: string | undefined): string | undefined {
  const have = rank(version ?? "");
  if (have === undefined) return `nats-server reported no readable version (${JSON.stringify(version ?? "")}); hookline needs nats-server ${MIN_NATS_SERVER} or later`;
  if (have < (rank(MIN_NATS_SERVER) as number)) {
    return `nats-server ${version} is too old: hookline needs ${MIN_NATS_SERVER} or later (the first with atomic batch publish); upgrade the NATS servers`;
  }
  return undefined;
}
