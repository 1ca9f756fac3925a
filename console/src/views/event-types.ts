// The event-type catalog: what each type means and whether publish checks it against a schema.
import type { EventType } from "../../../src/gen/hookline/v1/event_type_pb.ts";
import { field, h, replace } from "../dom.ts";
import { time } from "../format.ts";
import { href } from "../router.ts";
import { act, badge, heading, loading, notify, reportError, table, type ViewContext } from "../ui.ts";

const PAGE_SIZE = 100;

export async function eventTypesView(ctx: ViewContext): Promise<void> {
  const { api, scope, main, route, signal } = ctx;
  // Admin: every scope, or one tenant's catalog as publish sees it; a tenant key: its own.
  const tenantId = scope.admin ? (route.params.get("tenant") ?? "") : scope.tenantId;
  const archived = route.params.get("archived") === "1";
  const pageToken = route.params.get("page") ?? "";
  const params = (extra: Record<string, string | undefined>) => ({ tenant: scope.admin ? tenantId : undefined, archived: archived ? "1" : undefined, ...extra });
  const list = h("div", null, loading());
  replace(
    main,
    heading(
      "Event types",
      tenantId !== "" && scope.admin ? h("span", { class: "hint" }, "of tenant ", h("code", null, tenantId), " · ", h("a", { href: href("event-types") }, "all scopes")) : null,
    ),
    h(
      "p",
      { class: "hint" },
      "Types with a schema are checked at publish: a payload that does not match is refused. ",
      h("a", { href: href("event-types", params({ archived: archived ? undefined : "1" })), "data-archived-toggle": "" }, archived ? "Hide archived" : "Show archived"),
    ),
    createEventTypeForm(ctx, tenantId),
    list,
  );
  try {
    const page = await api.eventTypes.listEventTypes({ tenantId, includeArchived: archived, pageSize: PAGE_SIZE, pageToken }, { signal });
    replace(
      list,
      table(
        [
          { title: "Name", cell: (t: EventType) => h("code", null, t.name) },
          { title: "Scope", cell: (t) => (t.tenantId === "" ? badge("instance-wide", "muted") : h("code", null, t.tenantId)) },
          { title: "Description", cell: (t) => t.description },
          { title: "Schema", cell: (t) => (t.schema === "" ? badge("no", "muted") : h("span", { title: t.schema }, badge("yes", "ok"))) },
          { title: "State", cell: (t) => (t.archived ? badge("archived", "warn") : badge("live", "ok")) },
          { title: "Updated", cell: (t) => time(t.updateTime) },
          { title: "", cell: (t) => archiveButton(ctx, t) },
        ],
        page.eventTypes,
        { empty: archived ? "No event types." : "No event types yet (archived ones are hidden).", label: "Event types" },
      ),
      h(
        "p",
        { class: "pager" },
        pageToken === "" ? null : h("a", { href: href("event-types", params({})), class: "button secondary" }, "First page"),
        page.nextPageToken === "" ? null : h("a", { href: href("event-types", params({ page: page.nextPageToken })), class: "button secondary" }, "Next page"),
      ),
    );
  } catch (err) {
    replace(list);
    reportError(err);
  }
}

/** Archive (or restore) a type the key may change: a tenant key only its own tenant's. */
function archiveButton(ctx: ViewContext, t: EventType): HTMLElement | null {
  if (!ctx.scope.admin && t.tenantId === "") return null;
  const button = h("button", { type: "button", class: "secondary small" }, t.archived ? "Restore" : "Archive");
  button.addEventListener("click", () =>
    act(button, async () => {
      if (t.archived)
        await ctx.api.eventTypes.updateEventType({ eventType: { tenantId: t.tenantId, name: t.name, archived: false }, updateMask: { paths: ["archived"] } });
      else await ctx.api.eventTypes.archiveEventType({ tenantId: t.tenantId, name: t.name });
      notify(`${t.name} ${t.archived ? "restored" : "archived"}.`);
      await eventTypesView(ctx);
    }),
  );
  return button;
}

function createEventTypeForm(ctx: ViewContext, tenantId: string): HTMLElement {
  const form = h(
    "form",
    { class: "stack-form", "aria-label": "New event type" },
    ctx.scope.admin
      ? h("label", null, "Tenant id (empty for an instance-wide type)", h("input", { name: "tenant", value: tenantId, placeholder: "tnt_…" }))
      : null,
    h("label", null, "Name", h("input", { name: "name", required: true, maxlength: 128, placeholder: "invoice.paid", spellcheck: "false" })),
    h("label", null, "Description", h("input", { name: "description", maxlength: 1000 })),
    h("label", null, "JSON Schema (draft 2020-12, optional)", h("textarea", { name: "schema", rows: 5, spellcheck: "false", placeholder: '{"type": "object", "required": ["amount"]}' })),
    h("label", null, "Example payload (JSON, optional)", h("textarea", { name: "example", rows: 3, spellcheck: "false", placeholder: '{"amount": 12.5}' })),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create event type")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void act(form.querySelector("button")!, async () => {
      const { eventType } = await ctx.api.eventTypes.createEventType({
        eventType: {
          tenantId: ctx.scope.admin ? field(form, "tenant").value.trim() : ctx.scope.tenantId,
          name: field(form, "name").value.trim(),
          description: field(form, "description").value.trim(),
          schema: field<HTMLTextAreaElement>(form, "schema").value.trim(),
          example: field<HTMLTextAreaElement>(form, "example").value.trim(),
        },
      });
      notify(`Event type ${eventType?.name ?? ""} created.`);
      await eventTypesView(ctx);
    });
  });
  return h("details", { class: "panel" }, h("summary", null, "New event type"), form);
}
