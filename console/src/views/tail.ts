// Live tail: WatchDeliveries as a server stream over Connect; newest change on top.
import type { Delivery } from "../../../src/gen/hookline/v1/delivery_pb.ts";
import { isCancel } from "../api.ts";
import { field, h, replace } from "../dom.ts";
import { statusName, statusTone, time } from "../format.ts";
import { go, href } from "../router.ts";
import { badge, heading, reportError, type ViewContext } from "../ui.ts";
import { lastResult } from "./deliveries.ts";

/** Rows kept on screen; older ones are dropped. */
const MAX_ROWS = 200;

export function tailView(ctx: ViewContext): void {
  const { api, main, route, signal, scope } = ctx;
  const endpointId = route.params.get("endpoint") ?? "";
  const state = h("span", { class: "badge muted", "data-tail-state": "connecting" }, "connecting…");
  const rows = h("tbody");
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter the live tail" },
    h("label", null, "Endpoint id", h("input", { name: "endpoint", value: endpointId, placeholder: "any endpoint", "data-filter": "" })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Watch")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    go("tail", { endpoint: field(form, "endpoint").value.trim() });
  });
  replace(
    main,
    heading("Live tail", state),
    form,
    h("p", { class: "hint" }, "Shows every attempt's outcome and every retry as it happens. New deliveries appear once attempted."),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "aria-label": "Live deliveries" },
        h("thead", null, h("tr", null, ["Seen", "Status", "Event type", "Delivery", "Endpoint", "Attempts", "Last result"].map((t) => h("th", { scope: "col" }, t)))),
        rows,
      ),
    ),
  );

  const add = (d: Delivery): void => {
    const target = href(`deliveries/${d.id}`);
    const tr = h(
      "tr",
      { "data-row": "", "data-href": target, tabindex: 0, class: "fresh" },
      h("td", null, time(d.updateTime)),
      h("td", null, badge(statusName(d.status), statusTone(d.status))),
      h("td", null, d.eventType),
      h("td", null, h("a", { href: target }, h("code", null, d.id))),
      h("td", null, h("code", null, d.endpointId)),
      h("td", { class: "num" }, String(d.attempts)),
      h("td", null, lastResult(d)),
    );
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && e.target === tr) window.location.hash = target;
    });
    rows.prepend(tr);
    while (rows.childElementCount > MAX_ROWS) rows.lastElementChild?.remove();
  };

  const setState = (name: string, text: string, tone: string): void => {
    state.dataset.tailState = name;
    state.className = `badge ${tone}`;
    state.textContent = text;
  };

  void (async () => {
    // Reconnects after a broken stream until the view is left.
    while (!signal.aborted) {
      try {
        setState("connecting", "connecting…", "muted");
        const tenantId = scope.admin ? "" : scope.tenantId;
        for await (const msg of api.deliveries.watchDeliveries({ tenantId, endpointId }, { signal })) {
          // The first message has no delivery: it says the watch is registered.
          if (!msg.delivery) setState("live", "live", "ok");
          else add(msg.delivery);
        }
        setState("broken", "stream ended, reconnecting…", "warn");
        await new Promise((r) => setTimeout(r, 1000));
      } catch (err) {
        if (signal.aborted || isCancel(err)) return;
        setState("broken", "disconnected, retrying…", "bad");
        reportError(err);
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  })();
}
