// Deliveries, newest first, paged by the server (page tokens); filters by endpoint, status and
// creation time go to ListDeliveries, the event type filters the rows of the page shown.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Delivery } from "../../../src/gen/hookline/v1/delivery_pb.ts";
import type { Endpoint } from "../../../src/gen/hookline/v1/endpoint_pb.ts";
import { field, h, replace } from "../dom.ts";
import { STATUS_NAMES, localInputMs, statusFromName, statusName, statusTone, time } from "../format.ts";
import { go, href } from "../router.ts";
import { badge, heading, loading, reportError, table, type ViewContext } from "../ui.ts";
import { replayPanel } from "./endpoint.ts";

const PAGE_SIZE = 50;
const FILTERS = ["endpoint", "status", "type", "from", "to"] as const;

/** Tokens of the pages before the current one, for "Previous page" (per filter set). */
let history: { filters: string; tokens: string[] } = { filters: "", tokens: [] };

export async function deliveriesView(ctx: ViewContext): Promise<void> {
  const { api, main, route, signal, scope } = ctx;
  const p = (name: string): string => route.params.get(name) ?? "";
  const filters = Object.fromEntries(FILTERS.map((f) => [f, p(f)])) as Record<(typeof FILTERS)[number], string>;
  const filterKey = JSON.stringify(filters);
  if (history.filters !== filterKey) history = { filters: filterKey, tokens: [] };
  const pageToken = p("page");

  const endpointSelect = h("select", { name: "endpoint", "data-filter": "" }, h("option", { value: "" }, "any endpoint"));
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter deliveries" },
    h("label", null, "Endpoint", endpointSelect),
    h(
      "label",
      null,
      "Status",
      h("select", { name: "status" }, h("option", { value: "" }, "any status"), STATUS_NAMES.map(([, name]) => h("option", { value: name, selected: name === filters.status }, name))),
    ),
    h("label", null, "Event type", h("input", { name: "type", value: filters.type, placeholder: "order.* or exact" })),
    h("label", null, "Created from", h("input", { name: "from", type: "datetime-local", step: 1, value: filters.from })),
    h("label", null, "Created before", h("input", { name: "to", type: "datetime-local", step: 1, value: filters.to })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply"), h("a", { href: href("deliveries"), class: "button secondary" }, "Clear")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    go("deliveries", Object.fromEntries(FILTERS.map((f) => [f, field<HTMLInputElement | HTMLSelectElement>(form, f).value.trim()])));
  });
  const list = h("div", null, loading());
  replace(
    main,
    heading("Deliveries"),
    form,
    filters.type !== ""
      ? h("p", { class: "hint" }, "The event type filters the rows of each page (ListDeliveries filters by endpoint, status and time), so a page may show fewer rows.")
      : null,
    filters.endpoint === "" ? null : h("details", { class: "panel" }, h("summary", null, "Replay deliveries of this endpoint"), replayPanel(ctx, filters.endpoint)),
    list,
  );

  void loadEndpointChoices(ctx, endpointSelect, filters.endpoint);
  try {
    const status = statusFromName(filters.status);
    const from = localInputMs(filters.from);
    const to = localInputMs(filters.to);
    const page = await api.deliveries.listDeliveries(
      {
        endpointId: filters.endpoint,
        statuses: status === undefined ? [] : [status],
        startTime: from === undefined ? undefined : timestampFromMs(from),
        endTime: to === undefined ? undefined : timestampFromMs(to),
        pageSize: PAGE_SIZE,
        pageToken,
      },
      { signal },
    );
    const rows = page.deliveries.filter(matcher(filters));
    const hidden = page.deliveries.length - rows.length;
    const prev = history.tokens.at(-1);
    const prevButton = h("button", { type: "button", class: "secondary", disabled: pageToken === "" }, "Previous page");
    prevButton.addEventListener("click", () => {
      history.tokens.pop();
      go("deliveries", { ...filters, page: prev });
    });
    const nextButton = h("button", { type: "button", class: "secondary", disabled: page.nextPageToken === "" }, "Next page");
    nextButton.addEventListener("click", () => {
      history.tokens.push(pageToken);
      go("deliveries", { ...filters, page: page.nextPageToken });
    });
    replace(
      list,
      table(
        [
          { title: "Created", cell: (d: Delivery) => time(d.createTime) },
          { title: "Status", cell: (d) => badge(statusName(d.status), statusTone(d.status)) },
          { title: "Event type", cell: (d) => d.eventType },
          { title: "Delivery", cell: (d) => h("a", { href: href(`deliveries/${d.id}`) }, h("code", null, d.id)) },
          { title: "Endpoint", cell: (d) => h("code", null, d.endpointId) },
          ...(scope.admin ? [{ title: "Tenant", cell: (d: Delivery) => h("code", null, d.tenantId) }] : []),
          { title: "Attempts", cell: (d) => String(d.attempts), class: "num" },
          { title: "Last result", cell: (d) => lastResult(d) },
        ],
        rows,
        { link: (d) => href(`deliveries/${d.id}`), empty: hidden > 0 ? `No delivery on this page matches; ${hidden} hidden by the event type filter.` : "No deliveries.", label: "Deliveries" },
      ),
      h("p", { class: "pager" }, prevButton, nextButton, hidden > 0 && rows.length > 0 ? h("span", { class: "hint" }, `${hidden} on this page hidden by the event type filter`) : null),
    );
  } catch (err) {
    replace(list);
    reportError(err);
  }
}

export function lastResult(d: Delivery): string {
  if (d.attempts === 0) return "";
  return d.lastStatusCode === 0 ? d.lastError : `HTTP ${d.lastStatusCode}${d.lastError === "" ? "" : ` · ${d.lastError}`}`;
}

/** The page-local filter: event type, exact or "prefix.*". */
function matcher(f: { type: string }): (d: Delivery) => boolean {
  const type = f.type;
  return (d) => type === "" || (type.endsWith("*") ? d.eventType.startsWith(type.slice(0, -1)) : d.eventType === type);
}

async function loadEndpointChoices(ctx: ViewContext, select: HTMLSelectElement, chosen: string): Promise<void> {
  try {
    const { endpoints } = await ctx.api.endpoints.listEndpoints({ pageSize: 1000 }, { signal: ctx.signal });
    const option = (e: Endpoint): HTMLOptionElement => h("option", { value: e.id, selected: e.id === chosen }, `${e.url} (${e.id})`);
    select.append(...endpoints.map(option));
    if (chosen !== "" && !endpoints.some((e) => e.id === chosen)) select.append(h("option", { value: chosen, selected: true }, chosen));
  } catch (err) {
    reportError(err);
  }
}
