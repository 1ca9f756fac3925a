// The console: sign in with an API key, then a shell whose main area shows the view the URL
// fragment names. Every call goes to hookline's own API over the Connect protocol.
import { createApi, describeError } from "./api.ts";
import { field, h, replace } from "./dom.ts";
import { installShortcuts } from "./keys.ts";
import { currentRoute, href } from "./router.ts";
import { discoverScope, forgetKey, storedKey, storeKey, type Scope } from "./session.ts";
import { applyStoredTheme, currentTheme, toggleTheme } from "./theme.ts";
import { noticeArea, type ViewContext } from "./ui.ts";
import { deliveriesView } from "./views/deliveries.ts";
import { deliveryView } from "./views/delivery.ts";
import { endpointView } from "./views/endpoint.ts";
import { endpointsView } from "./views/endpoints.ts";
import { eventTypesView } from "./views/event-types.ts";
import { tailView } from "./views/tail.ts";
import { tenantsView } from "./views/tenants.ts";

const app = document.getElementById("app")!;

applyStoredTheme();
document.body.append(noticeArea());
installShortcuts(() => document.getElementById("main"));
void start();

/** Undoes the signed-in shell (its route listener and the running view). */
let leaveShell: (() => void) | undefined;

async function start(): Promise<void> {
  const key = storedKey();
  if (key === null) return signIn();
  // Once signed in, a key that stops working (revoked) leads back to the sign-in form.
  const api = createApi(key, () => {
    if (leaveShell) signOut("Your API key is no longer accepted. Sign in again.");
  });
  try {
    shell(api, await discoverScope(api));
  } catch (err) {
    signOut(describeError(err));
  }
}

function signOut(message = ""): void {
  leaveShell?.();
  leaveShell = undefined;
  forgetKey();
  window.location.hash = "";
  signIn(message);
}

function signIn(message = ""): void {
  const form = h(
    "form",
    { class: "signin panel", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "hookline console"),
    h("p", null, "Sign in with an API key. An admin key sees every tenant; a tenant key sees its own tenant only."),
    h("label", null, "API key", h("input", { name: "key", type: "password", required: true, autocomplete: "off", spellcheck: "false", autofocus: true })),
    message === "" ? null : h("p", { class: "error", role: "alert" }, message),
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "hint" }, "The key is kept in this tab's session storage only and is forgotten when the tab closes."),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const key = field(form, "key").value.trim();
    storeKey(key);
    void start();
  });
  replace(app, h("main", { class: "center" }, form));
  field(form, "key").focus();
}

const NAV: Array<[string, string]> = [
  ["tenants", "Tenants"],
  ["endpoints", "Endpoints"],
  ["deliveries", "Deliveries"],
  ["tail", "Live tail"],
  ["event-types", "Event types"],
];

function shell(api: ReturnType<typeof createApi>, scope: Scope): void {
  const main = h("main", { id: "main", tabindex: -1 });
  const nav = h("nav", { "aria-label": "Views" }, NAV.map(([path, name]) => h("a", { href: href(path), "data-view": path }, name)));
  const theme = h("button", { type: "button", class: "ghost", "aria-label": "Switch theme", title: "Switch theme (t)" }, themeLabel());
  theme.addEventListener("click", () => {
    toggleTheme();
    theme.textContent = themeLabel();
  });
  const out = h("button", { type: "button", class: "ghost" }, "Sign out");
  out.addEventListener("click", () => signOut());
  const who = scope.admin ? h("span", { class: "badge muted", "data-scope": "admin" }, "admin key") : h("span", { class: "badge muted", "data-scope": "tenant" }, `tenant: ${scope.tenantName}`);
  replace(
    app,
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h("header", { class: "top" }, h("a", { class: "brand", href: href("endpoints") }, "hookline"), nav, h("div", { class: "spacer" }), who, theme, out),
    main,
    h("footer", null, "Press ", h("kbd", null, "?"), " for keyboard shortcuts"),
  );
  // The skip link must not change the route.
  app.querySelector(".skip")?.addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  new MutationObserver(() => (theme.textContent = themeLabel())).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });

  let current: AbortController | undefined;
  const render = (): void => {
    current?.abort();
    current = new AbortController();
    const route = currentRoute();
    const [view = "endpoints", id] = route.parts;
    for (const link of nav.querySelectorAll("a")) {
      if (link.dataset.view === view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const ctx: ViewContext = { api, scope, main, route, signal: current.signal };
    const shown = showView(ctx, view, id);
    void Promise.resolve(shown).then(() => main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true }));
  };
  window.addEventListener("hashchange", render);
  leaveShell = () => {
    window.removeEventListener("hashchange", render);
    current?.abort();
  };
  render();
}

function showView(ctx: ViewContext, view: string, id: string | undefined): Promise<void> | void {
  switch (view) {
    case "tenants":
      return tenantsView(ctx);
    case "endpoints":
      return id === undefined ? endpointsView(ctx) : endpointView(ctx, id);
    case "deliveries":
      return id === undefined ? deliveriesView(ctx) : deliveryView(ctx, id);
    case "tail":
      return tailView(ctx);
    case "event-types":
      return eventTypesView(ctx);
    default:
      replace(ctx.main, h("h1", { tabindex: -1 }, "Not found"), h("p", null, h("a", { href: href("endpoints") }, "Go to endpoints")));
  }
}

function themeLabel(): string {
  return currentTheme() === "dark" ? "Light theme" : "Dark theme";
}
