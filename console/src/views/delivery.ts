// One delivery with its attempts, and Retry.
import { DeliveryStatus, type Attempt, type Delivery } from "../../../src/gen/hookline/v1/delivery_pb.ts";
import { h, replace } from "../dom.ts";
import { statusName, statusTone, time } from "../format.ts";
import { href } from "../router.ts";
import { act, badge, facts, heading, loading, notify, reportError, type ViewContext } from "../ui.ts";
import { attemptsTable, follow, settled } from "./attempts.ts";
import { lastResult } from "./deliveries.ts";

export async function deliveryView(ctx: ViewContext, id: string): Promise<void> {
  const { api, main, signal } = ctx;
  replace(main, heading("Delivery"), loading());
  const summary = h("section", { class: "panel", "aria-labelledby": "summary-title" });
  const attemptsPanel = h("section", { class: "panel", "aria-labelledby": "attempts-title" });
  const retry = h("button", { type: "button" }, "Retry now");

  const show = (d: Delivery, attempts: Attempt[]): void => {
    retry.disabled = d.status === DeliveryStatus.CANCELLED;
    replace(
      summary,
      h("h2", { id: "summary-title" }, "Summary"),
      facts([
        ["Status", badge(statusName(d.status), statusTone(d.status))],
        ["Event", h("span", null, d.eventType, " · ", h("code", null, d.eventId))],
        ["Endpoint", h("a", { href: href(`endpoints/${d.endpointId}`) }, h("code", null, d.endpointId))],
        ["Tenant", h("code", null, d.tenantId)],
        ["Attempts", String(d.attempts)],
        ["Last result", lastResult(d) || "—"],
        ["Next attempt", time(d.nextAttemptTime)],
        ["Created", time(d.createTime)],
        ["Updated", time(d.updateTime)],
      ]),
    );
    replace(
      attemptsPanel,
      h("h2", { id: "attempts-title" }, "Attempts"),
      attemptsTable(attempts),
      h("p", { class: "hint" }, "Request headers are as sent, except the endpoint's custom header values, which are masked."),
    );
  };

  try {
    const [{ delivery }, { attempts }] = await Promise.all([api.deliveries.getDelivery({ id }, { signal }), api.deliveries.listAttempts({ deliveryId: id, pageSize: 100 }, { signal })]);
    if (!delivery) return;
    // The summary above the attempts: their request headers need the width.
    replace(main, heading(`Delivery ${delivery.id}`, h("p", { class: "toolbar" }, retry)), summary, attemptsPanel);
    show(delivery, attempts);
  } catch (err) {
    replace(main, heading("Delivery"), h("p", { class: "empty" }, `Delivery ${id} cannot be shown.`));
    reportError(err);
    return;
  }

  retry.addEventListener("click", () =>
    act(retry, async () => {
      const before = (await api.deliveries.listAttempts({ deliveryId: id, pageSize: 100 }, { signal })).attempts.length;
      await api.deliveries.retryDelivery({ id }, { signal });
      notify("Retry scheduled.");
      await follow(api, id, signal, show, (d, attempts) => attempts.length > before && settled(d));
    }).catch(reportError),
  );
}
