import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { HooklineError, invalidArgument } from "../core/errors.ts";
import { nonPublicReason } from "./address-class.ts";

export { isNonPublicAddress } from "./address-class.ts";

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
  for (const address of addresses) {
    const reason = nonPublicReason(address);
    if (reason === undefined) continue;
    throw new HooklineError(
      "invalid_argument",
      `${field}: "${host}" resolves to the non-public address ${address} (${reason}); start hookline with --allow-private-targets to permit it`,
      [{ field, description: `resolves to non-public address ${address} (${reason})` }],
    );
  }
}
