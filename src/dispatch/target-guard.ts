import { lookup } from "node:dns/promises";
import { isIP, BlockList } from "node:net";
import { HooklineError, invalidArgument } from "../core/errors.ts";

/** Loopback, private, link-local, CGNAT, multicast and other non-public ranges (v4 and v6). */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, "ipv6");
}

export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, "ipv4");
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return NON_PUBLIC.check(mapped[1] as string, "ipv4");
    return NON_PUBLIC.check(address, "ipv6");
  }
  return true;
}

/**
 * Refuses URLs whose host resolves to a non-public address (SSRF guard), unless private
 * targets are allowed. The resolved addresses are checked, not the name.
 */
export async function checkTargetAllowed(field: string, url: string, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch (err) {
    throw invalidArgument(field, `host "${host}" does not resolve (${(err as NodeJS.ErrnoException).code ?? "lookup failed"})`);
  }
  const blocked = addresses.find(isNonPublicAddress);
  if (blocked !== undefined) {
    throw new HooklineError(
      "invalid_argument",
      `${field}: "${host}" resolves to the non-public address ${blocked}; start hookline with --allow-private-targets to permit it`,
      [{ field, description: `resolves to non-public address ${blocked}` }],
    );
  }
}
