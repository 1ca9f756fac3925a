// Event-type filters picked from the catalog: suggestions for a comma-separated types field.
import type { Api } from "./api.ts";
import { h } from "./dom.ts";

let lists = 0;

/** The live catalog names a tenant (or, with "", an admin across scopes) can use. */
async function catalogNames(api: Api, tenantId: string, signal?: AbortSignal): Promise<string[]> {
  const names = new Set<string>();
  let pageToken = "";
  // A few pages at most: suggestions, not a complete listing.
  for (let page = 0; page < 5; page++) {
    const res = await api.eventTypes.listEventTypes({ tenantId, pageSize: 1000, pageToken }, { signal });
    for (const t of res.eventTypes) names.add(t.name);
    pageToken = res.nextPageToken;
    if (pageToken === "") break;
  }
  return [...names].sort();
}

/**
 * Gives `input` (comma-separated event types) a <datalist> of catalog names, and returns a
 * select that appends the chosen name to the list. Stays empty when the catalog is.
 */
export function catalogPicker(api: Api, input: HTMLInputElement, tenantId: () => string, signal?: AbortSignal): { element: HTMLElement; reload(): void } {
  const id = `event-type-names-${++lists}`;
  const datalist = h("datalist", { id });
  input.setAttribute("list", id);
  const select = h("select", { "aria-label": "Add an event type from the catalog", "data-catalog-picker": "" }, h("option", { value: "" }, "Add from catalog…"));
  const wrap = h("span", { class: "catalog-picker", hidden: true }, select, datalist);
  select.addEventListener("change", () => {
    const name = select.value;
    select.value = "";
    if (name === "") return;
    const current = input.value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (!current.includes(name)) input.value = [...current, name].join(", ");
    input.focus();
  });
  const load = (): void => {
    catalogNames(api, tenantId(), signal).then(
      (names) => {
        datalist.replaceChildren(...names.map((n) => h("option", { value: n })));
        select.replaceChildren(h("option", { value: "" }, "Add from catalog…"), ...names.map((n) => h("option", { value: n }, n)));
        wrap.hidden = names.length === 0;
      },
      () => (wrap.hidden = true),
    );
  };
  load();
  return { element: wrap, reload: load };
}
