// A delivery's attempts: status, duration, error, the request headers sent and the response body's first bytes.
import { orderedHeaders } from "../../../src/core/sent-headers.ts";
import type { Attempt, Delivery } from "../../../src/gen/hookline/v1/delivery_pb.ts";
import { DeliveryStatus } from "../../../src/gen/hookline/v1/delivery_pb.ts";
import type { Api } from "../api.ts";
import { h } from "../dom.ts";
import { bodyText, ms, time } from "../format.ts";
import { badge, table } from "../ui.ts";

export function attemptsTable(attempts: Attempt[]): HTMLElement {
  return table(
    [
      { title: "#", cell: (a: Attempt) => String(a.number), class: "num" },
      { title: "Started", cell: (a) => time(a.startTime) },
      {
        title: "Status",
        cell: (a) =>
          a.statusCode === 0 ? badge("no response", "bad") : badge(String(a.statusCode), a.statusCode >= 200 && a.statusCode < 300 ? "ok" : "bad"),
      },
      { title: "Duration", cell: (a) => ms(a.duration), class: "num" },
      { title: "Error", cell: (a) => a.error },
      { title: "Response body", cell: (a) => (a.responseBody.length === 0 ? h("span", { class: "hint" }, "empty") : h("pre", { class: "body" }, bodyText(a.responseBody))) },
      { title: "Request headers", cell: requestHeaders },
    ],
    attempts,
    { empty: "No attempt yet.", label: "Attempts" },
  );
}

/** Attempts whose headers were unfolded: they stay so when the table is redrawn (follow() does, every second). */
const unfolded = new Set<string>();

/** The headers an attempt sent, folded: the signature and ids are long, and rarely what one looks for first. */
function requestHeaders(a: Attempt): HTMLElement {
  const lines = orderedHeaders(a.requestHeaders);
  if (lines.length === 0) return h("span", { class: "hint" }, "not recorded");
  const details = h(
    "details",
    { class: "headers" },
    h("summary", null, `${lines.length} headers`),
    h("pre", { class: "body" }, lines.map(([name, value]) => `${name}: ${value}`).join("\n")),
  );
  details.open = unfolded.has(a.id);
  details.addEventListener("toggle", () => (details.open ? unfolded.add(a.id) : unfolded.delete(a.id)));
  return details;
}

/** A delivery is settled when nothing more happens to it without someone acting. */
export const settled = (d: Delivery): boolean => d.status === DeliveryStatus.SUCCEEDED || d.status === DeliveryStatus.DEAD || d.status === DeliveryStatus.CANCELLED;

/**
 * Reloads a delivery and its attempts every second, calling `show` each time, until `done`
 * says so, the view is left, or 30 s pass.
 */
export async function follow(
  api: Api,
  id: string,
  signal: AbortSignal,
  show: (d: Delivery, attempts: Attempt[]) => void,
  done: (d: Delivery, attempts: Attempt[]) => boolean,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!signal.aborted && Date.now() < deadline) {
    const [{ delivery }, { attempts }] = await Promise.all([
      api.deliveries.getDelivery({ id }, { signal }),
      api.deliveries.listAttempts({ deliveryId: id, pageSize: 100 }, { signal }),
    ]);
    if (!delivery) return;
    show(delivery, attempts);
    if (done(delivery, attempts)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
