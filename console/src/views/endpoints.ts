// Endpoints with their health, and a form for a new one.
import type { Endpoint, EndpointStats } from "../../../src/gen/hookline/v1/endpoint_pb.ts";
import { catalogPicker } from "../catalog-picker.ts";
import { field, h, replace } from "../dom.ts";
import { ms } from "../format.ts";
import { go, href } from "../router.ts";
import { act, heading, loading, reportError, showSecretOnce, table, type ViewContext } from "../ui.ts";
import { backlog, breakerCell, stateBadge, successCell } from "./health.ts";

const PAGE_SIZE = 50;

export async function endpointsView(ctx: ViewContext): Promise<void> {
  const { api, scope, main, route, signal } = ctx;
  const tenantId = scope.admin ? (route.params.get("tenant") ?? "") : scope.tenantId;
  const pageToken = route.params.get("page") ?? "";
  const list = h("div", null, loading());
  replace(
    main,
    heading("Endpoints", tenantId !== "" && scope.admin ? h("span", { class: "hint" }, "of tenant ", h("code", null, tenantId), " · ", h("a", { href: href("endpoints") }, "all tenants")) : null),
    createEndpointForm(ctx, tenantId),
    list,
  );
  try {
    const page = await api.endpoints.listEndpoints({ tenantId, pageSize: PAGE_SIZE, pageToken }, { signal });
    // One stats call per endpoint of the page; a failed one leaves its cells empty.
    const stats = new Map<string, EndpointStats>();
    await Promise.all(
      page.endpoints.map(async (e) => {
        try {
          const { stats: s } = await api.endpoints.getEndpointStats({ id: e.id }, { signal });
          if (s) stats.set(e.id, s);
        } catch {
          // shown as "—"
        }
      }),
    );
    const s = (e: Endpoint): EndpointStats | undefined => stats.get(e.id);
    replace(
      list,
      table(
        [
          { title: "URL", cell: (e: Endpoint) => h("a", { href: href(`endpoints/${e.id}`) }, e.url), class: "url" },
          { title: "Description", cell: (e) => e.description },
          ...(scope.admin && tenantId === "" ? [{ title: "Tenant", cell: (e: Endpoint) => h("code", null, e.tenantId) }] : []),
          { title: "State", cell: (e) => stateBadge(e) },
          { title: "Success", cell: (e) => successCell(s(e)), class: "num" },
          { title: "p95", cell: (e) => ms(s(e)?.latencyP95), class: "num" },
          { title: "Backlog", cell: (e) => (s(e) ? String(backlog(s(e)!)) : "—"), class: "num" },
          { title: "Breaker", cell: (e) => breakerCell(s(e)) },
        ],
        page.endpoints,
        { link: (e) => href(`endpoints/${e.id}`), empty: "No endpoints yet.", label: "Endpoints" },
      ),
      h(
        "p",
        { class: "pager" },
        pageToken === "" ? null : h("a", { href: href("endpoints", { tenant: route.params.get("tenant") ?? undefined }), class: "button secondary" }, "First page"),
        page.nextPageToken === "" ? null : h("a", { href: href("endpoints", { tenant: route.params.get("tenant") ?? undefined, page: page.nextPageToken }), class: "button secondary" }, "Next page"),
      ),
    );
  } catch (err) {
    replace(list);
    reportError(err);
  }
}

function createEndpointForm(ctx: ViewContext, tenantId: string): HTMLElement {
  const types = h("input", { name: "types", placeholder: "invoice.paid, order.*" });
  const tenant = ctx.scope.admin ? h("input", { name: "tenant", required: true, value: tenantId, placeholder: "tnt_…" }) : null;
  const picker = catalogPicker(ctx.api, types, { tenantId: () => tenant?.value.trim() ?? "", multiple: true, signal: ctx.signal });
  tenant?.addEventListener("change", () => picker.reload());
  const form = h(
    "form",
    { class: "stack-form", "aria-label": "New endpoint" },
    tenant ? h("label", null, "Tenant id", tenant) : null,
    h("label", null, "URL", h("input", { name: "url", type: "url", required: true, placeholder: "https://example.com/webhooks" })),
    h("label", null, "Description", h("input", { name: "description", maxlength: 500 })),
    h("label", null, "Event types (comma-separated; empty means all)", types),
    picker.element,
    h("label", { class: "check" }, h("input", { name: "disabled", type: "checkbox" }), " Create disabled"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create endpoint")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void act(form.querySelector("button")!, async () => {
      const { endpoint } = await ctx.api.endpoints.createEndpoint({
        tenantId: ctx.scope.admin ? field(form, "tenant").value.trim() : ctx.scope.tenantId,
        url: field(form, "url").value.trim(),
        description: field(form, "description").value.trim(),
        eventTypes: splitList(field(form, "types").value),
        disabled: field(form, "disabled").checked,
      });
      if (!endpoint) return;
      await showSecretOnce("Endpoint created", `The signing secret of ${endpoint.url}.`, endpoint.secret);
      go(`endpoints/${endpoint.id}`);
    });
  });
  return h("details", { class: "panel" }, h("summary", null, "New endpoint"), form);
}

export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
