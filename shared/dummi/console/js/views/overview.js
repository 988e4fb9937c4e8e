// Overview: totals, activity per day, the serving model and the last training run, and the online metrics
// per day and surface (GET /overview, GET /metrics/online), promotions' CTR by name, with what the alarms
// watch in words.
import { api } from "../api.js";
import { h, clear, num, pct, fixed, ago, when } from "../dom.js";
import { figure, lines, bars } from "../charts.js";

const METRIC_DAYS = 30;

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function card(id, label, value, sub, subClass = "") {
  return h("div", { class: "card", id }, h("dt", {}, label), h("dd", {}, h("span", { class: "value" }, value), sub ? h("span", { class: `sub ${subClass}` }, sub) : null));
}

// Today's events against the mean of the 7 days before (the trend the card shows).
function trend(days) {
  const today = days[days.length - 1].events;
  const before = days.slice(-8, -1);
  const mean = before.reduce((s, d) => s + d.events, 0) / before.length;
  if (!mean) return today ? "none on the 7 days before" : "no events this week";
  const change = (today - mean) / mean;
  return `${change >= 0 ? "▲" : "▼"} ${Math.abs(change * 100).toFixed(0)}% vs the 7-day mean (${num(Math.round(mean))})`;
}

export async function render(_arg, { isCurrent }) {
  const to = new Date();
  const from = new Date(to.getTime() - (METRIC_DAYS - 1) * 86400000);
  const [o, metrics] = await Promise.all([
    api("/overview"),
    api("/metrics/online", { query: { from: isoDay(from), to: isoDay(to), group_by: "day,surface" } }),
  ]);
  if (!isCurrent()) return;
  const main = clear(document.getElementById("main"));
  const t = o.totals;
  const run = o.last_run;
  const model = o.model;
  main.append(
    h("h1", {}, "Overview"),
    h("p", { class: "muted" }, `As of ${when(o.generated_at)}${t.approximate ? " · totals of tables past 1M rows are estimates" : ""}`),
    h(
      "dl",
      { class: "cards" },
      card("card-users", "Users", num(t.users)),
      card("card-items", "Items", num(t.items), `${num(t.recommendable_items)} recommendable`),
      card("card-events", "Events", num(t.events)),
      card("card-events-today", "Events today (UTC)", num(o.events_today), trend(o.days)),
      card("card-model", "Serving model", model ? model.version : "none yet", model ? `published ${ago(model.age_seconds)}` : "run training to publish one"),
      card(
        "card-training",
        "Last training run",
        run ? run.state : "none yet",
        run ? `${when(run.finished_at)}${run.decision ? ` · ${run.decision.action}: ${run.decision.reason}` : ""}` : null,
      ),
      card("card-experiments", "Experiments running", num(o.experiments_running)),
      card(
        "card-ctr-baseline",
        "CTR vs baseline",
        o.ctr_vs_baseline === null ? "–" : fixed(o.ctr_vs_baseline, 2),
        o.ctr_vs_baseline === null ? "no impressions yesterday or the week before" : o.ctr_vs_baseline < 0.8 ? "below 0.8: the alarm fires" : "within bounds (alarm below 0.8)",
        o.ctr_vs_baseline !== null && o.ctr_vs_baseline < 0.8 ? "bad" : "",
      ),
    ),
  );
  if (o.active_run) {
    main.append(h("p", { class: "notice", id: "active-run" }, `A training run is ${o.active_run.state} (started ${when(o.active_run.started_at || o.active_run.created_at)}). `, h("a", { href: "#/training" }, "Follow it")));
  }

  const labels = o.days.map((d) => d.day.slice(5));
  const [activity, activityCanvas] = figure("Events and active users per day", `Events per day over the last ${o.days.length} days; today ${o.events_today}`, { id: "chart-activity" });
  const charts = h("div", { class: "charts" }, activity);
  main.append(h("h2", {}, "Activity"), charts);
  bars(activityCanvas, labels, [
    { label: "events", data: o.days.map((d) => d.events) },
    { label: "active users", data: o.days.map((d) => d.users) },
  ]);

  // online metrics per day and surface
  const days = [];
  for (let k = 0; k < METRIC_DAYS; k++) days.push(isoDay(new Date(from.getTime() + k * 86400000)));
  const surfaces = [...new Set(metrics.rows.map((r) => r.surface))].sort();
  const byKey = new Map(metrics.rows.map((r) => [`${r.day}|${r.surface}`, r]));
  const series = (field) => surfaces.map((s) => ({ label: s, data: days.map((d) => (byKey.get(`${d}|${s}`) || {})[field] ?? null) }));
  main.append(h("h2", {}, `Online metrics per day and surface (last ${METRIC_DAYS} days)`));
  if (!metrics.rows.length) {
    main.append(h("p", { class: "muted", id: "no-metrics" }, "No answers logged in these days yet (the metrics job runs hourly; `dummi metrics` runs it now)."));
  } else {
    const grid = h("div", { class: "charts" });
    main.append(grid);
    const dayLabels = days.map((d) => d.slice(5));
    for (const [field, title, format] of [
      ["ctr", "CTR (clicks / items shown)", (v) => pct(v, 1)],
      ["coverage", "Coverage (distinct items shown / catalog)", (v) => pct(v, 0)],
      ["intra_list_diversity", "Intra-list diversity (1 − mean pairwise cosine)", (v) => fixed(v, 2)],
    ]) {
      const [fig, canvas] = figure(title, `${title} per day for ${surfaces.join(", ")}`, { id: `chart-${field}` });
      grid.append(fig);
      lines(canvas, dayLabels, series(field), { yFormat: format });
    }
    const totals = surfaces.map((s) => {
      const rows = metrics.rows.filter((r) => r.surface === s);
      const shown = rows.reduce((a, r) => a + r.impressions, 0);
      const clicks = rows.reduce((a, r) => a + r.clicks, 0);
      return { surface: s, lists: rows.reduce((a, r) => a + r.lists, 0), shown, clicks, ctr: shown ? clicks / shown : null };
    });
    main.append(
      h(
        "table",
        { id: "surface-totals" },
        h("caption", {}, `Per surface, last ${METRIC_DAYS} days`),
        h("thead", {}, h("tr", {}, ["Surface", "Answers", "Items shown", "Clicks", "CTR"].map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
        h("tbody", {}, totals.map((r) => h("tr", {}, h("td", {}, r.surface), h("td", { class: "num" }, num(r.lists)), h("td", { class: "num" }, num(r.shown)), h("td", { class: "num" }, num(r.clicks)), h("td", { class: "num" }, pct(r.ctr))))),
      ),
    );
  }

  // promotions: each campaign's promoted slots shown and clicked (GET /overview, from the metrics job)
  main.append(h("h2", {}, `Promotions (last ${o.days.length} days)`));
  const promotions = o.promotions || [];
  if (!promotions.length) {
    main.append(h("p", { class: "muted", id: "no-promotions" }, "No promoted items shown in these days (a request's promotion field; the metrics job adds them up hourly)."));
  } else {
    main.append(
      h(
        "table",
        { id: "promotions" },
        h("caption", {}, "Per promotion: promoted items shown and clicked"),
        h("thead", {}, h("tr", {}, ["Promotion", "Items shown", "Clicks", "CTR"].map((c, i) => h("th", { scope: "col", class: i ? "num" : null }, c)))),
        h("tbody", {}, promotions.map((p) => h("tr", {}, h("td", {}, p.name), h("td", { class: "num" }, num(p.impressions)), h("td", { class: "num" }, num(p.clicks)), h("td", { class: "num" }, p.ctr === null ? "–" : pct(p.ctr))))),
      ),
    );
  }

  main.append(
    h("h2", {}, "What the alarms watch"),
    h(
      "dl",
      { class: "fields", id: "alarms" },
      h("dt", {}, "CTR vs baseline"),
      h("dd", {}, "Yesterday's CTR divided by the CTR of the 7 days before it. 1.0 means the same; the alarm fires below 0.8, a drop of more than 20% — look at the last model published and at the experiments running."),
      h("dt", {}, "Impression write failures"),
      h("dd", {}, "Answers that went out without being logged: their clicks cannot be attributed and the online metrics undercount. One is enough to alarm; usually the database was unreachable."),
      h("dt", {}, "Sample-ratio mismatches"),
      h("dd", {}, "Running experiments whose users are not split as their weights say (chi-square p < 0.001): their lifts cannot be trusted until the cause (a bug in assignment, a variant that fails) is found."),
    ),
  );
}
