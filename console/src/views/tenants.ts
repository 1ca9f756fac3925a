// Tenants: an admin key sees and creates them (and issues tenant keys); a tenant key sees its own.
import type { Tenant } from "../../../src/gen/hookline/v1/tenant_pb.ts";
import { field, h, replace } from "../dom.ts";
import { time } from "../format.ts";
import { href } from "../router.ts";
import { act, heading, loading, notify, reportError, showSecretOnce, table, type ViewContext } from "../ui.ts";

export async function tenantsView(ctx: ViewContext): Promise<void> {
  const { api, scope, main, route } = ctx;
  const list = h("div", null, loading());
  const pageToken = route.params.get("page") ?? "";
  replace(
    main,
    heading("Tenants"),
    scope.admin ? createTenantForm(ctx) : h("p", { class: "hint" }, `This API key acts for tenant ${scope.tenantName} (${scope.tenantId}) only.`),
    list,
  );
  try {
    const page = await api.tenants.listTenants({ pageSize: 100, pageToken }, { signal: ctx.signal });
    const issueKey = (t: Tenant): HTMLElement => {
      const button = h("button", { type: "button", class: "secondary small" }, "New API key");
      button.addEventListener("click", () =>
        act(button, async () => {
          const created = await api.apiKeys.createApiKey({ tenantId: t.id, name: `console key for ${t.name}` });
          await showSecretOnce("New tenant API key", `A key that acts for ${t.name} only.`, created.key);
        }),
      );
      return button;
    };
    replace(
      list,
      table(
        [
          { title: "Name", cell: (t: Tenant) => h("a", { href: href("endpoints", { tenant: t.id }) }, t.name) },
          { title: "Id", cell: (t) => h("code", null, t.id) },
          { title: "Rate limit", cell: (t) => (t.rateLimitPerSecond === 0 ? "unlimited" : `${t.rateLimitPerSecond}/s`) },
          { title: "Created", cell: (t) => time(t.createTime) },
          ...(scope.admin ? [{ title: "", cell: issueKey }] : []),
        ],
        page.tenants,
        { link: (t) => href("endpoints", { tenant: t.id }), empty: "No tenants yet.", label: "Tenants" },
      ),
      page.nextPageToken === "" ? null : h("p", null, h("a", { href: href("tenants", { page: page.nextPageToken }), class: "button secondary" }, "Next page")),
    );
  } catch (err) {
    replace(list);
    reportError(err);
  }
}

function createTenantForm(ctx: ViewContext): HTMLElement {
  const form = h(
    "form",
    { class: "inline-form", "aria-label": "New tenant" },
    h("label", null, "Name ", h("input", { name: "name", required: true, maxlength: 200, placeholder: "Acme Inc." })),
    h("button", { type: "submit" }, "Create tenant"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const button = form.querySelector("button")!;
    void act(button, async () => {
      const { tenant } = await ctx.api.tenants.createTenant({ name: field(form, "name").value.trim() });
      notify(`Tenant ${tenant?.name ?? ""} created.`);
      form.reset();
      await tenantsView(ctx);
    });
  });
  return h("details", { class: "panel" }, h("summary", null, "New tenant"), form);
}
