// One endpoint: health, settings, enable/disable, secret rotation, test event and bulk replay.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus } from "../../../src/gen/hookline/v1/delivery_pb.ts";
import type { Endpoint } from "../../../src/gen/hookline/v1/endpoint_pb.ts";
import { catalogPicker } from "../catalog-picker.ts";
import { field, h, replace } from "../dom.ts";
import { STATUS_NAMES, localInputMs, statusName, statusTone, time } from "../format.ts";
import { href } from "../router.ts";
import { act, badge, confirmAction, facts, heading, loading, notify, reportError, showSecretOnce, type ViewContext } from "../ui.ts";
import { attemptsTable, follow, settled } from "./attempts.ts";
import { splitList } from "./endpoints.ts";
import { healthPanel, stateBadge } from "./health.ts";

export async function endpointView(ctx: ViewContext, id: string): Promise<void> {
  const { api, main, signal } = ctx;
  replace(main, heading("Endpoint"), loading());
  let endpoint: Endpoint | undefined;
  try {
    endpoint = (await api.endpoints.getEndpoint({ id }, { signal })).endpoint;
  } catch (err) {
    replace(main, heading("Endpoint"), h("p", { class: "empty" }, `Endpoint ${id} cannot be shown.`));
    reportError(err);
    return;
  }
  if (!endpoint) return;
  const health = h("section", { class: "panel", "aria-labelledby": "health-title" }, h("h2", { id: "health-title" }, "Health"), loading());
  replace(
    main,
    heading(endpoint.url, h("span", { class: "hint" }, h("code", null, endpoint.id), " · ", stateBadge(endpoint))),
    h(
      "p",
      { class: "toolbar" },
      h("a", { class: "button secondary", href: href("deliveries", { endpoint: endpoint.id }) }, "Deliveries"),
      h("a", { class: "button secondary", href: href("tail", { endpoint: endpoint.id }) }, "Live tail"),
    ),
    h("div", { class: "grid" }, health, settingsPanel(ctx, endpoint)),
    h("div", { class: "grid" }, testEventPanel(ctx, endpoint), replayPanel(ctx, endpoint.id)),
  );
  try {
    const { stats } = await api.endpoints.getEndpointStats({ id }, { signal });
    if (stats) replace(health, h("h2", { id: "health-title" }, "Health"), healthPanel(stats));
  } catch (err) {
    reportError(err);
  }
}

function settingsPanel(ctx: ViewContext, e: Endpoint): HTMLElement {
  const types = h("input", { name: "types", value: e.eventTypes.join(", ") });
  const form = h(
    "form",
    { class: "stack-form", "aria-label": "Endpoint settings" },
    h("label", null, "URL", h("input", { name: "url", type: "url", required: true, value: e.url })),
    h("label", null, "Description", h("input", { name: "description", value: e.description, maxlength: 500 })),
    h("label", null, "Event types (comma-separated; empty means all)", types),
    catalogPicker(ctx.api, types, { tenantId: () => e.tenantId, multiple: true, signal: ctx.signal }).element,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void act(form.querySelector("button")!, async () => {
      await ctx.api.endpoints.updateEndpoint({
        endpoint: { id: e.id, url: field(form, "url").value.trim(), description: field(form, "description").value.trim(), eventTypes: splitList(field(form, "types").value) },
        updateMask: { paths: ["url", "description", "event_types"] },
      });
      notify("Endpoint saved.");
      await endpointView(ctx, e.id);
    });
  });

  const reason = h("input", { name: "reason", placeholder: "Reason (optional)", "aria-label": "Reason for disabling", maxlength: 500 });
  const toggle = h("button", { type: "button", class: e.disabled ? "" : "danger" }, e.disabled ? "Enable" : "Disable");
  toggle.addEventListener("click", () =>
    act(toggle, async () => {
      await ctx.api.endpoints.updateEndpoint({ endpoint: { id: e.id, disabled: !e.disabled, disabledReason: reason.value.trim() }, updateMask: { paths: ["disabled"] } });
      notify(e.disabled ? "Endpoint enabled." : "Endpoint disabled.");
      await endpointView(ctx, e.id);
    }),
  );
  const rotate = h("button", { type: "button", class: "secondary" }, "Rotate secret");
  rotate.addEventListener("click", async () => {
    if (!(await confirmAction("Rotate the signing secret?", "A new secret is made; the old one keeps signing for 24 hours so receivers can switch.", "Rotate"))) return;
    await act(rotate, async () => {
      const { endpoint } = await ctx.api.endpoints.rotateEndpointSecret({ id: e.id });
      if (endpoint) await showSecretOnce("New signing secret", `The new signing secret of ${endpoint.url}.`, endpoint.secret);
    });
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "Settings"),
    facts([
      ["Tenant", h("code", null, e.tenantId)],
      ["Created", time(e.createTime)],
      ["Updated", time(e.updateTime)],
    ]),
    form,
    h("div", { class: "toolbar" }, e.disabled ? null : reason, toggle, rotate),
  );
}

function testEventPanel(ctx: ViewContext, e: Endpoint): HTMLElement {
  const result = h("div", { class: "test-result" });
  // A catalog type without a payload sends its example.
  const testType = h("input", { name: "type", placeholder: "hookline.test" });
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "Send a test event" },
    h("label", null, "Event type ", testType),
    catalogPicker(ctx.api, testType, { tenantId: () => e.tenantId, multiple: false, signal: ctx.signal }).element,
    h("button", { type: "submit", disabled: e.disabled }, "Send test event"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void act(form.querySelector("button")!, async () => {
      const sent = await ctx.api.endpoints.sendTestEvent({ endpointId: e.id, type: field(form, "type").value.trim() });
      replace(result, h("p", null, "Sent as delivery ", h("a", { href: href(`deliveries/${sent.deliveryId}`) }, sent.deliveryId), "; waiting for the attempt…"));
      await follow(
        ctx.api,
        sent.deliveryId,
        ctx.signal,
        (d, attempts) =>
          replace(
            result,
            h("p", null, "Delivery ", h("a", { href: href(`deliveries/${d.id}`) }, d.id), " ", badge(statusName(d.status), statusTone(d.status))),
            attemptsTable(attempts),
          ),
        // Done once it succeeded or died, or failed its first attempt with a retry scheduled.
        (d, attempts) => settled(d) || (attempts.length > 0 && d.status === DeliveryStatus.RETRYING),
      );
    });
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "test-title" },
    h("h2", { id: "test-title" }, "Test event"),
    e.disabled ? h("p", { class: "hint" }, "Enable the endpoint to send a test event.") : h("p", { class: "hint" }, "Sends one event to this endpoint only, signed and retried like any other."),
    form,
    result,
  );
}

/** Bulk replay: every delivery of the endpoint with these statuses, created in the window. */
export function replayPanel(ctx: ViewContext, endpointId: string): HTMLElement {
  const statuses = STATUS_NAMES.filter(([s]) => s !== DeliveryStatus.PENDING && s !== DeliveryStatus.CANCELLED);
  const form = h(
    "form",
    { class: "stack-form", "aria-label": "Replay deliveries" },
    h(
      "fieldset",
      null,
      h("legend", null, "Statuses"),
      statuses.map(([s, name]) => h("label", { class: "check" }, h("input", { type: "checkbox", name: `status-${name}`, checked: s === DeliveryStatus.DEAD }), ` ${name}`)),
    ),
    h("label", null, "Created from", h("input", { type: "datetime-local", name: "from", step: 1 })),
    h("label", null, "Created before", h("input", { type: "datetime-local", name: "to", step: 1 })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Replay")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const chosen = statuses.filter(([, name]) => field(form, `status-${name}`).checked).map(([s]) => s);
    const from = localInputMs(field(form, "from").value);
    const to = localInputMs(field(form, "to").value);
    void act(form.querySelector("button")!, async () => {
      const window = `${from === undefined ? "any time" : new Date(from).toLocaleString()} – ${to === undefined ? "now" : new Date(to).toLocaleString()}`;
      if (!(await confirmAction("Replay deliveries?", `Every ${chosen.map(statusName).join(" or ") || "dead"} delivery of ${endpointId} created ${window} is scheduled again.`, "Replay"))) return;
      const { replayedCount } = await ctx.api.deliveries.replayDeliveries({
        endpointId,
        statuses: chosen,
        startTime: from === undefined ? undefined : timestampFromMs(from),
        endTime: to === undefined ? undefined : timestampFromMs(to),
      });
      notify(`${replayedCount} deliveries scheduled again.`);
    });
  });
  return h("section", { class: "panel", "aria-labelledby": "replay-title" }, h("h2", { id: "replay-title" }, "Replay"), form);
}
