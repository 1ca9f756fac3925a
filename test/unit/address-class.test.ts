import { describe, expect, it } from "vitest";
import { isNonPublicAddress, nonPublicReason, parseIPv6 } from "../../src/dispatch/address-class.ts";

describe("nonPublicReason", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["169.254.169.254", "link-local"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["198.18.0.1", "benchmarking"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["::", "unspecified"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"],
    ["::ffff:7f00:1", "loopback (IPv4-mapped 127.0.0.1)"],
    ["::FFFF:10.0.0.1", "private (IPv4-mapped 10.0.0.1)"],
    ["::127.0.0.1", "IPv4-compatible"],
    ["::7f00:1", "IPv4-compatible"],
    ["::8.8.8.8", "IPv4-compatible"],
    ["::ffff:0:127.0.0.1", "IPv4-translated 127.0.0.1"],
    ["64:ff9b::127.0.0.1", "loopback (NAT64 127.0.0.1)"],
    ["64:ff9b::a9fe:a9fe", "link-local (NAT64 169.254.169.254)"],
    ["64:ff9b:1::1", "local-use NAT64"],
    ["2002:7f00:1::1", "loopback (6to4 127.0.0.1)"],
    ["2002:c0a8:101::", "private (6to4 192.168.1.1)"],
    ["2001:0:4136:e378::1", "Teredo"],
    ["fc00::1", "unique local"],
    ["fd12:3456:789a::1", "unique local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "site-local"],
    ["ff02::1", "multicast"],
    ["100::1", "discard"],
    ["localhost", "not an IP address"],
    ["", "not an IP address"],
  ])("%s is non-public: %s", (address, reason) => {
    expect(nonPublicReason(address)).toContain(reason);
    expect(isNonPublicAddress(address)).toBe(true);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
  ])("%s is public", (address) => {
    expect(nonPublicReason(address)).toBeUndefined();
  });
});

describe("parseIPv6", () => {
  const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString("hex");

  it.each([
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["::ffff:1.2.3.4", "00000000000000000000ffff01020304"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
    ["64:ff9b::10.0.0.1", "0064ff9b00000000000000000a000001"],
  ])("%s", (address, expected) => {
    expect(hex(parseIPv6(address))).toBe(expected);
  });

  it("refuses malformed text", () => {
    expect(parseIPv6("1::2::3")).toBeUndefined();
    expect(parseIPv6("1:2:3")).toBeUndefined();
    expect(parseIPv6("1:2:3:4:5:6:7:8:9")).toBeUndefined();
  });
});
