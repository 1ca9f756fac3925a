// Event types picked from the catalog: suggestions for a type field, and a picker that adds to
// a comma-separated filter.
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

export interface CatalogPicker {
  /** The <datalist> (and, for filters, the picker) to place after the input. */
  element: HTMLElement;
  /** Loads the names again (the tenant changed). */
  reload(): void;
}

/**
 * Gives `input` a <datalist> of catalog names. With `multiple` (a comma-separated filter), also
 * a select that appends the chosen name to the list; it stays hidden while the catalog is empty.
 */
export function catalogPicker(api: Api, input: HTMLInputElement, o: { tenantId: () => string; multiple: boolean; signal?: AbortSignal }): CatalogPicker {
  const id = `event-type-names-${++lists}`;
  const datalist = h("datalist", { id });
  input.setAttribute("list", id);
  const select = h("select", { "aria-label": "Add an event type from the catalog", "data-catalog-picker": "" });
  const wrap = h("span", { class: "catalog-picker", hidden: true }, o.multiple ? select : null, datalist);
  select.addEventListener("change", () => {
    const name = select.value;
    select.value = "";
    if (name === "") return;
    const current = input.value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (!current.includes(name)) input.value = [...current, name].join(", ");
    input.focus();
  });
  const reload = (): void => {
    catalogNames(api, o.tenantId(), o.signal).then(
      (names) => {
        datalist.replaceChildren(...names.map((n) => h("option", { value: n })));
        select.replaceChildren(h("option", { value: "" }, "Add from catalog…"), ...names.map((n) => h("option", { value: n }, n)));
        wrap.hidden = !o.multiple || names.length === 0;
      },
      // Suggestions only: without them the field still takes any type.
      () => (wrap.hidden = true),
    );
  };
  reload();
  return { element: wrap, reload };
}
