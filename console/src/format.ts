// How values read on screen.
import { durationMs, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus } from "../../src/gen/hookline/v1/delivery_pb.ts";
import { BreakerState } from "../../src/gen/hookline/v1/endpoint_pb.ts";

export function time(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const d = timestampDate(ts);
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function ms(d: Duration | undefined): string {
  if (!d) return "—";
  const value = durationMs(d);
  return value < 10 ? `${value.toFixed(1)} ms` : value < 10_000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

export function percent(share: number, of: number): string {
  return of === 0 ? "—" : `${(share * 100).toFixed(share >= 0.999 || share === 0 ? 0 : 1)}%`;
}

export const STATUS_NAMES: ReadonlyArray<[DeliveryStatus, string]> = [
  [DeliveryStatus.PENDING, "pending"],
  [DeliveryStatus.RETRYING, "retrying"],
  [DeliveryStatus.SUCCEEDED, "succeeded"],
  [DeliveryStatus.DEAD, "dead"],
  [DeliveryStatus.CANCELLED, "cancelled"],
];

export function statusName(s: DeliveryStatus): string {
  return STATUS_NAMES.find(([v]) => v === s)?.[1] ?? "unknown";
}

export function statusFromName(name: string): DeliveryStatus | undefined {
  return STATUS_NAMES.find(([, n]) => n === name)?.[0];
}

/** The badge tone of a delivery status. */
export function statusTone(s: DeliveryStatus): "ok" | "warn" | "bad" | "muted" {
  switch (s) {
    case DeliveryStatus.SUCCEEDED:
      return "ok";
    case DeliveryStatus.DEAD:
      return "bad";
    case DeliveryStatus.RETRYING:
      return "warn";
    default:
      return "muted";
  }
}

export function breakerName(s: BreakerState): string {
  return s === BreakerState.OPEN ? "open" : s === BreakerState.HALF_OPEN ? "half-open" : "closed";
}

export function breakerTone(s: BreakerState): "ok" | "warn" | "bad" {
  return s === BreakerState.OPEN ? "bad" : s === BreakerState.HALF_OPEN ? "warn" : "ok";
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

export function bodyText(bytes: Uint8Array): string {
  return bytes.length === 0 ? "" : utf8.decode(bytes);
}

/** A datetime-local input's value as epoch ms, or undefined when empty. */
export function localInputMs(value: string): number | undefined {
  if (value === "") return undefined;
  const at = new Date(value).getTime();
  return Number.isNaN(at) ? undefined : at;
}
