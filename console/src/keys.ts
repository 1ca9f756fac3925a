// Keyboard: / filter, j/k rows, Enter opens, g then a letter to switch view, t theme, ? help.
import { h } from "./dom.ts";
import { go } from "./router.ts";
import { toggleTheme } from "./theme.ts";
import { modal } from "./ui.ts";

const VIEWS: Record<string, [string, string]> = {
  t: ["tenants", "Tenants"],
  e: ["endpoints", "Endpoints"],
  d: ["deliveries", "Deliveries"],
  l: ["tail", "Live tail"],
  c: ["event-types", "Event types"],
};

export const SHORTCUTS: Array<[string, string]> = [
  ["/", "Focus the filter"],
  ["j / k", "Next / previous row"],
  ["Enter", "Open the focused row"],
  ...Object.entries(VIEWS).map(([key, [, name]]): [string, string] => [`g ${key}`, `Go to ${name}`]),
  ["t", "Switch light / dark theme"],
  ["?", "Show these shortcuts"],
  ["Esc", "Close a dialog, leave a field"],
];

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function installShortcuts(mainArea: () => HTMLElement | null): void {
  let pendingG = false;
  document.addEventListener("keydown", (e) => {
    const main = mainArea();
    if (!main || e.ctrlKey || e.metaKey || e.altKey || document.querySelector("dialog[open]")) return;
    if (typing(e.target)) {
      if (e.key === "Escape" && e.target instanceof HTMLElement) e.target.blur();
      return;
    }
    if (pendingG) {
      pendingG = false;
      const view = VIEWS[e.key];
      if (view) {
        e.preventDefault();
        go(view[0]);
      }
      return;
    }
    switch (e.key) {
      case "/": {
        const filter = main.querySelector<HTMLElement>("[data-filter]");
        if (filter) {
          e.preventDefault();
          filter.focus();
        }
        break;
      }
      case "j":
      case "k":
        e.preventDefault();
        moveRow(main, e.key === "j" ? 1 : -1);
        break;
      case "g":
        pendingG = true;
        break;
      case "t":
        toggleTheme();
        break;
      case "?":
        void modal(
          "Keyboard shortcuts",
          h("dl", { class: "facts" }, SHORTCUTS.map(([k, what]) => [h("dt", null, h("kbd", null, k)), h("dd", null, what)])),
        );
        break;
    }
  });
}

function moveRow(main: HTMLElement, by: number): void {
  const rows = [...main.querySelectorAll<HTMLElement>("[data-row]")];
  if (rows.length === 0) return;
  const at = rows.indexOf(document.activeElement as HTMLElement);
  const next = rows[at === -1 ? (by > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + by))];
  next?.focus();
  next?.scrollIntoView({ block: "nearest" });
}
