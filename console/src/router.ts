// Hash routes (#/deliveries?status=dead): the server serves one page, the fragment picks the view.

export interface Route {
  /** Path segments after "#/", e.g. ["deliveries", "dlv_…"]. */
  parts: string[];
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path = "", query = ""] = hash.split("?", 2);
  return { parts: path.split("/").filter((p) => p !== "").map(decodeURIComponent), params: new URLSearchParams(query) };
}

/** The href of a view, leaving out empty params. */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") query.set(k, v);
  const q = query.toString();
  return `#/${path}${q === "" ? "" : `?${q}`}`;
}

export function go(path: string, params: Record<string, string | undefined> = {}): void {
  window.location.hash = href(path, params);
}
