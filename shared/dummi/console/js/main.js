// The console's shell: a hash router over the views, the API key panel, and the header's key status.
import { api, apiKey, base, setApiKey, whenUnauthorized, explain } from "./api.js";
import { h, clear } from "./dom.js";
import { destroyAll } from "./charts.js";
import * as overview from "./views/overview.js";
import * as training from "./views/training.js";
import * as experiments from "./views/experiments.js";
import * as users from "./views/users.js";
import * as items from "./views/items.js";

const VIEWS = { overview, training, experiments, users, items };
const main = document.getElementById("main");
const keyPanel = document.getElementById("key-panel");
const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("key-input");
const keyError = document.getElementById("key-error");
let generation = 0;
let cleanup = null;

function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a malformed %-escape typed into the address bar: look it up as it is
  }
}

function route() {
  const [name, ...rest] = (window.location.hash.replace(/^#\/?/, "") || "overview").split("/");
  const view = VIEWS[name] ? name : "overview";
  return { view, arg: rest.length ? decoded(rest.join("/")) : null };
}

export async function render({ focus = false, quiet = false } = {}) {
  const { view, arg } = route();
  const mine = ++generation;
  if (cleanup) cleanup();
  cleanup = null;
  destroyAll();
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${view[0].toUpperCase()}${view.slice(1)} · Dummi console`;
  if (!quiet) clear(main).append(h("p", { class: "muted" }, "Loading…"));
  main.setAttribute("aria-busy", "true");
  try {
    const out = await VIEWS[view].render(arg, { isCurrent: () => mine === generation, rerender: () => render({ quiet: true }) });
    if (mine !== generation) return;
    cleanup = out && out.cleanup;
  } catch (error) {
    if (mine !== generation) return;
    clear(main).append(h("h1", {}, "Could not load this view"), h("p", { class: "error", role: "alert" }, explain(error)));
  } finally {
    if (mine === generation) {
      main.setAttribute("aria-busy", "false");
      main.dataset.ready = view;
      performance.mark(`dummi:ready:${view}`); // what the console benchmark times
      if (focus && !main.contains(document.activeElement)) main.focus(); // unless the view focused a field
    }
  }
}

function showKeyStatus() {
  const status = document.getElementById("key-status");
  clear(status);
  if (apiKey()) {
    status.append(
      h("span", {}, "Using an API key (this tab only)"),
      h("button", { type: "button", class: "secondary", id: "forget-key", onclick: forgetKey }, "Forget key"),
    );
  }
}

function askForKey(message) {
  keyPanel.hidden = false;
  keyError.textContent = message || "";
  keyInput.focus();
}

function signedOut() {
  destroyAll();
  clear(main).append(h("h1", {}, "Dummi console"), h("p", {}, "Enter an API key to begin."));
  main.dataset.ready = "key";
  askForKey("");
}

function forgetKey() {
  setApiKey(null);
  showKeyStatus();
  signedOut();
}

keyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  keyInput.value = "";
  if (!key) return;
  setApiKey(key);
  try {
    await api("/overview");
  } catch (error) {
    setApiKey(null);
    askForKey(explain(error));
    return;
  }
  keyPanel.hidden = true;
  keyError.textContent = "";
  showKeyStatus();
  render({ focus: true });
});

whenUnauthorized((error) => {
  const had = Boolean(apiKey());
  setApiKey(null);
  showKeyStatus();
  askForKey(had ? explain(error) : "");
});

async function start() {
  window.addEventListener("hashchange", () => render({ focus: true }));
  showKeyStatus();
  let auth = true;
  try {
    const health = await fetch(`${base}/health`, { cache: "no-store", credentials: "omit" });
    auth = (await health.json()).auth !== false;
  } catch {
    // unreachable or degraded: the view's own call says what is wrong
  }
  if (auth && !apiKey()) {
    signedOut();
    return;
  }
  render();
}

start();
