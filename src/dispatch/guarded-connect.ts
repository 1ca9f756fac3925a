import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { buildConnector } from "undici";
import { nonPublicReason } from "./address-class.ts";

/** Error code of a connection refused because its address is not public. */
export const PRIVATE_TARGET = "EHOOKLINE_PRIVATE_TARGET";

function refusal(address: string, reason: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `target address ${address} is ${reason}; refused (start hookline with --allow-private-targets to allow it)`,
  );
  err.code = PRIVATE_TARGET;
  return err;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** DNS lookup that refuses a name resolving to any non-public address. */
function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const list = addresses as LookupAddress[];
    for (const { address } of list) {
      const reason = nonPublicReason(address);
      if (reason !== undefined) return callback(refusal(address, `${reason} (${hostname} resolves to it)`), []);
    }
    const first = list[0] as LookupAddress;
    if ((options as { all?: boolean }).all === true) callback(null, list);
    else callback(null, first.address, first.family);
  });
}

/**
 * An undici connector that checks the address of every connection: an IP literal before
 * connecting (net.connect skips the lookup for those), a name through the guarded lookup, and
 * the socket's peer address once connected, whatever path led there.
 */
export function guardedConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector({ ...options, lookup: guardedLookup as never });
  return (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) {
      const reason = nonPublicReason(host);
      if (reason !== undefined) {
        callback(refusal(host, reason), null);
        return;
      }
    }
    connect(opts, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error("connect failed"), null);
      const peer = socket.remoteAddress;
      const reason = peer === undefined ? undefined : nonPublicReason(peer);
      if (peer !== undefined && reason !== undefined) {
        socket.destroy();
        return callback(refusal(peer, reason), null);
      }
      callback(null, socket);
    });
  };
}
