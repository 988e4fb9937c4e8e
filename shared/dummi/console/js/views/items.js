// An item: its fields, similar items (a preview, not logged) and its impressions and clicks per day.
import { api, ApiError, explain } from "../api.js";
import { h, clear, fixed, num, pct, when, table, lookupForm } from "../dom.js";
import { figure, bars } from "../charts.js";

function lookup(current) {
  return lookupForm({ noun: "item", view: "items", label: "Content id", name: "content_id", current });
}

function availability(item) {
  if (item.hidden) return "hidden (never recommended)";
  const from = item.available_from ? `from ${when(item.available_from)}` : "";
  const until = item.available_until ? `until ${when(item.available_until)}` : "";
  return from || until ? `${from} ${until}`.trim() : "always";
}

export async function render(contentId, { isCurrent }) {
  if (!contentId) {
    clear(document.getElementById("main")).append(h("h1", {}, "Items"), lookup(""), h("p", { class: "muted" }, "Enter a content id to see the item, similar items and how often it was shown and clicked."));
    document.getElementById("item-id").focus();
    return;
  }
  const id = encodeURIComponent(contentId);
  let item;
  try {
    item = await api(`/content/${id}`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    if (!isCurrent()) return;
    clear(document.getElementById("main")).append(h("h1", {}, "Items"), lookup(contentId), h("p", { class: "error", role: "alert", id: "item-error" }, explain(error)));
    return;
  }
  const [similar, metrics] = await Promise.all([api(`/content/${id}/similar`, { query: { n: 10, preview: true } }), api(`/metrics/items/${id}`)]);
  if (!isCurrent()) return;
  const main = clear(document.getElementById("main"));
  const shown = metrics.days.reduce((a, d) => a + d.impressions, 0);
  const clicks = metrics.days.reduce((a, d) => a + d.clicks, 0);
  const properties = Object.entries(item.properties || {});
  main.append(
    h("h1", {}, item.title),
    lookup(contentId),
    h(
      "dl",
      { class: "fields", id: "item-fields" },
      h("dt", {}, "Content id"),
      h("dd", {}, item.content_id),
      h("dt", {}, "Category"),
      h("dd", {}, item.category),
      h("dt", {}, "Tags"),
      h("dd", {}, item.tags.length ? item.tags.map((t) => h("span", { class: "tag" }, t)) : "none"),
      h("dt", {}, "Description"),
      h("dd", {}, item.description || "–"),
      h("dt", {}, "Properties"),
      h("dd", {}, properties.length ? properties.map(([k, v]) => h("span", { class: "tag" }, `${k}: ${v}`)) : "none"),
      h("dt", {}, "Availability"),
      h("dd", {}, availability(item)),
      h("dt", {}, "Created"),
      h("dd", {}, when(item.created_at)),
    ),
    h("h2", {}, `Shown and clicked per day (${metrics.from} to ${metrics.to})`),
    h("p", { id: "item-totals" }, `${num(shown)} times shown, ${num(clicks)} clicks, CTR ${pct(shown ? clicks / shown : null)} over these days.`),
  );
  const [fig, canvas] = figure("Impressions and clicks per day", `Impressions and attributed clicks of ${item.title} per day`, { id: "chart-item" });
  main.append(h("div", { class: "charts" }, fig));
  bars(canvas, metrics.days.map((d) => d.day.slice(5)), [
    { label: "impressions", data: metrics.days.map((d) => d.impressions) },
    { label: "clicks", data: metrics.days.map((d) => d.clicks) },
  ]);
  main.append(
    h("h2", {}, "Similar items"),
    table(
      "Most similar by embedding (a preview, not logged)",
      [
        { key: "title", label: "Item", cell: (r) => h("a", { href: `#/items/${encodeURIComponent(r.content_id)}` }, r.title) },
        { key: "category", label: "Category", cell: (r) => r.category },
        { key: "score", label: "Similarity", num: true, cell: (r) => fixed(r.score, 3) },
        { key: "reason", label: "Reason", cell: (r) => r.reason },
      ],
      similar.recommendations,
      { id: "similar" },
    ),
  );
}
