// Pieces every view uses: badges, tables with keyboard rows, notices, dialogs.
import { describeError, isCancel, type Api } from "./api.ts";
import { h, type Child } from "./dom.ts";
import type { Route } from "./router.ts";
import type { Scope } from "./session.ts";

/** What a view gets: the API, the key's scope, its place on the page, and a signal aborted when it is left. */
export interface ViewContext {
  api: Api;
  scope: Scope;
  main: HTMLElement;
  route: Route;
  signal: AbortSignal;
}

export type Tone = "ok" | "warn" | "bad" | "muted";

export function badge(text: string, tone: Tone): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}

/** The page's heading; focused on arrival so keyboard and screen-reader users start there. */
export function heading(text: string, ...extra: Child[]): HTMLElement {
  return h("div", { class: "page-head" }, h("h1", { tabindex: -1 }, text), ...extra);
}

export interface Column<T> {
  title: string;
  cell(row: T): Child;
  class?: string;
}

/**
 * A table whose rows are reachable with Tab and j/k; Enter or a click on a row follows its
 * link (when `link` gives one).
 */
export function table<T>(columns: Column<T>[], rows: T[], options: { link?(row: T): string; empty: string; label: string }): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty" }, options.empty);
  const body = rows.map((row) => {
    const target = options.link?.(row);
    const tr = h(
      "tr",
      target === undefined ? null : { "data-row": "", "data-href": target, tabindex: 0 },
      columns.map((c) => h("td", c.class === undefined ? null : { class: c.class }, c.cell(row))),
    );
    if (target !== undefined) {
      tr.addEventListener("click", (e) => {
        if (!(e.target instanceof HTMLElement && e.target.closest("a, button, input, select"))) window.location.hash = target;
      });
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && e.target === tr) window.location.hash = target;
      });
    }
    return tr;
  });
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { "aria-label": options.label }, h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class }, c.title)))), h("tbody", null, body)),
  );
}

const notices = h("div", { class: "notices", role: "status", "aria-live": "polite" });

export function noticeArea(): HTMLElement {
  return notices;
}

/** A short message at the corner of the screen; errors stay until dismissed. */
export function notify(text: string, tone: Tone = "ok"): void {
  const close = h("button", { class: "ghost", "aria-label": "Dismiss", type: "button" }, "×");
  const note = h("div", { class: `notice ${tone}`, role: tone === "bad" ? "alert" : null }, h("span", null, text), close);
  close.addEventListener("click", () => note.remove());
  notices.append(note);
  if (tone !== "bad") setTimeout(() => note.remove(), 5000);
}

/** Reports a failed call, unless it was only given up. */
export function reportError(err: unknown): void {
  if (!isCancel(err)) notify(describeError(err), "bad");
}

/** Runs an action from a button: the button is busy meanwhile, errors are reported. */
export async function act(button: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (err) {
    reportError(err);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A modal dialog (Esc closes it); resolves when it is closed. */
export function modal(title: string, ...content: Child[]): Promise<void> {
  const dialog = h(
    "dialog",
    { "aria-labelledby": "dialog-title" },
    h("h2", { id: "dialog-title" }, title),
    ...content,
    h("form", { method: "dialog", class: "actions" }, h("button", { type: "submit", autofocus: true }, "Close")),
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve();
    });
  });
}

/** Shows a secret once, with a copy button: hookline never returns it again. */
export function showSecretOnce(title: string, what: string, secret: string): Promise<void> {
  const value = h("code", { class: "secret", "data-secret": "" }, secret);
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", () => {
    void navigator.clipboard?.writeText(secret).then(
      () => (copy.textContent = "Copied"),
      () => (copy.textContent = "Copy failed: select the text"),
    );
  });
  return modal(title, h("p", null, `${what} It is shown only now; hookline keeps no copy it can show again.`), h("div", { class: "secret-row" }, value, copy));
}

/** Asks a yes/no question in a dialog. */
export function confirmAction(title: string, text: string, yes: string): Promise<boolean> {
  const dialog = h(
    "dialog",
    { "aria-labelledby": "confirm-title" },
    h("h2", { id: "confirm-title" }, title),
    h("p", null, text),
    h(
      "form",
      { method: "dialog", class: "actions" },
      h("button", { type: "submit", value: "no", class: "secondary", autofocus: true }, "Cancel"),
      h("button", { type: "submit", value: "yes", class: "danger" }, yes),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
  });
}

/** Definition list of label/value pairs. */
export function facts(pairs: Array<[string, Child]>): HTMLElement {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

export function loading(): HTMLElement {
  return h("p", { class: "loading", "aria-busy": "true" }, "Loading…");
}
