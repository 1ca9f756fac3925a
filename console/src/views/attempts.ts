// A delivery's attempts: status, duration, error and the response body's first bytes.
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
    ],
    attempts,
    { empty: "No attempt yet.", label: "Attempts" },
  );
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
