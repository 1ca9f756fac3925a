import { BlockList, isIP } from "node:net";

/**
 * Why an IP address is not a public unicast address, or undefined when it is. IPv6 forms that
 * carry an IPv4 address (mapped, SIIT, NAT64, 6to4) are judged by the address they carry, so
 * [::ffff:127.0.0.1] or [64:ff9b::10.0.0.1] cannot reach what 127.0.0.1 or 10.0.0.1 cannot.
 * Anything that does not parse as an IP address counts as non-public. Documentation ranges
 * (192.0.2.0/24, 2001:db8::/32, ...) are not routed anywhere, so they are left alone: tests and
 * examples use them as public-looking addresses.
 */
export function nonPublicReason(address: string): string | undefined {
  const host = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(host);
  if (family === 4) return v4Reason(host);
  if (family === 6) {
    const bytes = parseIPv6(host);
    return bytes ? v6Reason(bytes) : "not an IP address";
  }
  return "not an IP address";
}

export function isNonPublicAddress(address: string): boolean {
  return nonPublicReason(address) !== undefined;
}

function ranges(family: "ipv4" | "ipv6", list: readonly (readonly [string, number, string])[]): (a: string) => string | undefined {
  const byReason = new Map<string, BlockList>();
  for (const [net, prefix, reason] of list) {
    let blocks = byReason.get(reason);
    if (!blocks) byReason.set(reason, (blocks = new BlockList()));
    blocks.addSubnet(net, prefix, family);
  }
  return (a) => {
    for (const [reason, blocks] of byReason) if (blocks.check(a, family)) return reason;
    return undefined;
  };
}

const V4 = ranges("ipv4", [
  ["0.0.0.0", 8, "unspecified (\"this network\")"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private (carrier-grade NAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved (IETF protocol assignments)"],
  ["192.88.99.0", 24, "reserved (6to4 relay)"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved (benchmarking)"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved (incl. broadcast)"],
]);

const V6 = ranges("ipv6", [
  ["64:ff9b:1::", 48, "private (local-use NAT64)"],
  ["100::", 64, "reserved (discard-only)"],
  ["2001::", 32, "reserved (Teredo tunnel)"],
  ["2001:2::", 48, "reserved (benchmarking)"],
  ["2001:10::", 28, "reserved (ORCHID)"],
  ["2001:20::", 28, "reserved (ORCHIDv2)"],
  ["5f00::", 16, "reserved (SRv6 SIDs)"],
  ["fc00::", 7, "private (unique local)"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "private (site-local)"],
  ["ff00::", 8, "multicast"],
]);

function v4Reason(address: string): string | undefined {
  return V4(address);
}

function v4At(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

function zeros(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function v6Reason(bytes: Uint8Array): string | undefined {
  if (zeros(bytes, 0, 10)) {
    const tail = bytes[10] === 0xff && bytes[11] === 0xff;
    // ::ffff:a.b.c.d (IPv4-mapped): the IPv4 address is what the kernel connects to.
    if (tail) return embedded(v4At(bytes, 12), "IPv4-mapped");
    if (bytes[10] === 0 && bytes[11] === 0) {
      if (zeros(bytes, 12, 16)) return "unspecified";
      if (zeros(bytes, 12, 15) && bytes[15] === 1) return "loopback";
      // ::a.b.c.d (IPv4-compatible) is deprecated and never a legitimate public target.
      return `reserved (IPv4-compatible ::${v4At(bytes, 12)})`;
    }
  }
  // ::ffff:0:a.b.c.d (SIIT, RFC 2765).
  if (zeros(bytes, 0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && bytes[10] === 0 && bytes[11] === 0)
    return embedded(v4At(bytes, 12), "IPv4-translated");
  // 64:ff9b::/96, the NAT64 well-known prefix: a gateway connects to the embedded IPv4 address.
  if (bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(bytes, 4, 12))
    return embedded(v4At(bytes, 12), "NAT64");
  // 2002::/16, 6to4: the relay sends to the IPv4 address in bits 16-48.
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return embedded(v4At(bytes, 2), "6to4");
  return V6(formatIPv6(bytes));
}

function embedded(v4: string, form: string): string | undefined {
  const reason = v4Reason(v4);
  return reason && `${reason} (${form} ${v4})`;
}

/** 16 bytes of an IPv6 address (already known to be valid by isIP), or undefined. */
export function parseIPv6(address: string): Uint8Array | undefined {
  // A trailing dotted quad is the last two words.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) => {
    const word = (hi: string, lo: string): string => ((Number(hi) << 8) | Number(lo)).toString(16);
    return `${word(a, b)}:${word(c, d)}`;
  });
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const w of part.split(":")) {
      if (!/^[0-9a-f]{1,4}$/i.test(w)) return undefined;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const head = parse(halves[0] as string);
  const tail = halves.length === 2 ? parse(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const words = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  return bytes;
}

function formatIPv6(bytes: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return words.join(":");
}
