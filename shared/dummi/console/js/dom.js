// Small DOM helpers. Text always goes in as text nodes (never parsed as HTML), so nothing a user or an item
// holds can run as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const whole = new Intl.NumberFormat("en-US");
export function num(value) {
  return value === null || value === undefined ? "–" : whole.format(value);
}

export function pct(value, digits = 2) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;
}

export function fixed(value, digits = 3) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function ago(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function table(caption, columns, rows, { id } = {}) {
  return h(
    "table",
    { id },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h(
      "tbody",
      {},
      rows.length
        ? rows.map((row) =>
            h(
              "tr",
              { class: row._class },
              columns.map((c) => h("td", { class: c.num ? "num" : null, "data-col": c.key }, c.cell(row))),
            ),
          )
        : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "nothing yet")),
    ),
  );
}

export function field(label, input) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}

// A search form that opens #/<view>/<id>: its field labelled, Enter submits (ids: <noun>-id, <noun>-lookup).
export function lookupForm({ noun, view, label, name, current }) {
  const input = h("input", { id: `${noun}-id`, name, value: current || "", required: true, maxlength: 256, autocomplete: "off" });
  const form = h(
    "form",
    { class: "inline", id: `${noun}-lookup`, role: "search", "aria-label": `Find ${noun === "item" ? "an" : "a"} ${noun}` },
    field(label, input),
    h("button", { type: "submit" }, `Show ${noun}`),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (id) window.location.hash = `#/${view}/${encodeURIComponent(id)}`;
  });
  return form;
}

export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.textContent = ""), 8000);
}
