// Experiments: the list, and one experiment's variants with CTR and lift, their intervals over time, the
// sample-ratio check and the decision sentence; ramp and stop with an admin key.
import { api, explain } from "../api.js";
import { h, clear, num, pct, when, table, field, toast } from "../dom.js";
import { figure, bands } from "../charts.js";

function interval(i, format = pct) {
  return i ? `[${format(i.low)}, ${format(i.high)}]` : "–";
}

function signed(v) {
  return v === null || v === undefined ? "–" : `${v >= 0 ? "+" : ""}${(v * 100).toFixed(2)}%`;
}

async function list(isCurrent) {
  const all = await api("/experiments");
  if (!isCurrent()) return;
  clear(document.getElementById("main")).append(
    h("h1", {}, "Experiments"),
    table(
      `${all.length} experiments, oldest first`,
      [
        { key: "name", label: "Name", cell: (e) => h("a", { href: `#/experiments/${encodeURIComponent(e.name)}` }, e.name) },
        { key: "status", label: "Status", cell: (e) => e.status },
        { key: "variants", label: "Variants", cell: (e) => e.variants.map((v) => v.name).join(", ") },
        { key: "traffic", label: "Traffic", num: true, cell: (e) => `${e.traffic_percent}%` },
        { key: "starts", label: "Started", cell: (e) => when(e.starts_at) },
        { key: "stopped", label: "Stopped / ends", cell: (e) => when(e.stopped_at || e.ends_at) },
      ],
      all,
      { id: "experiments" },
    ),
    h("p", { class: "muted" }, "Create experiments with POST /experiments (admin); docs/online-loop.md, \"Experiments, from creation to decision\", shows how."),
  );
}

async function detail(name, { isCurrent, rerender }) {
  const [results, timeline] = await Promise.all([
    api(`/experiments/${encodeURIComponent(name)}/results`),
    api(`/experiments/${encodeURIComponent(name)}/timeline`),
  ]);
  if (!isCurrent()) return;
  const main = clear(document.getElementById("main"));
  const e = results.experiment;
  const message = h("p", { id: "experiment-message", role: "status" });
  const act = async (path, body, done) => {
    message.className = "";
    message.textContent = "";
    try {
      await api(`/experiments/${encodeURIComponent(name)}/${path}`, { method: "POST", body });
      toast(done);
      rerender();
    } catch (error) {
      message.className = "error";
      message.textContent = explain(error);
    }
  };
  const live = e.status === "running" || e.status === "scheduled";
  const traffic = h("input", { id: "traffic-input", type: "number", min: "0.01", max: "100", step: "any", value: e.traffic_percent, required: true });
  const ramp = h("form", { class: "inline", id: "ramp-form", "aria-label": "Ramp traffic" }, field("Traffic (% of users)", traffic), h("button", { type: "submit", id: "ramp", disabled: !live }, "Set traffic"));
  ramp.addEventListener("submit", (event) => {
    event.preventDefault();
    act("traffic", { traffic_percent: Number(traffic.value) }, `Traffic of ${name} set to ${traffic.value}%`);
  });
  const stop = h("button", { type: "button", class: "danger", id: "stop", disabled: !live }, "Stop the experiment");
  stop.addEventListener("click", () => {
    if (!window.confirm(`Stop ${name}? Everyone gets the default ranking within seconds; results stay readable.`)) return;
    act("stop", undefined, `${name} stopped`);
  });
  const srm = results.sample_ratio;
  main.append(
    h("p", {}, h("a", { href: "#/experiments" }, "← all experiments")),
    h("h1", {}, `Experiment ${e.name}`),
    h("p", { class: "muted" }, `${e.status} · ${e.traffic_percent}% of users · started ${when(e.starts_at)}${e.stopped_at ? ` · stopped ${when(e.stopped_at)}` : ""}`),
    h("p", { class: srm.mismatch ? "notice bad" : "notice", id: "decision" }, h("strong", {}, "Decision: "), results.decision),
    h(
      "p",
      { id: "sample-ratio", class: srm.mismatch ? "bad" : null },
      `Sample-ratio check: chi-square ${srm.chi_square.toFixed(2)}, p = ${srm.p_value.toPrecision(3)} — `,
      srm.mismatch ? "users are NOT split as the weights say; do not trust the lifts." : "users are split as the weights say.",
    ),
    table(
      `Variants (control: ${results.control})`,
      [
        { key: "name", label: "Variant", cell: (v) => v.name },
        { key: "users", label: "Users", num: true, cell: (v) => num(v.users) },
        { key: "share", label: "Expected share", num: true, cell: (v) => pct(v.expected_share, 1) },
        { key: "impressions", label: "Items shown", num: true, cell: (v) => num(v.impressions) },
        { key: "clicks", label: "Clicks", num: true, cell: (v) => num(v.clicks) },
        { key: "ctr", label: "CTR", num: true, cell: (v) => pct(v.ctr) },
        { key: "ctr_interval", label: "CTR 95% interval", cell: (v) => interval(v.ctr_interval) },
        { key: "lift", label: "Lift", num: true, cell: (v) => signed(v.lift) },
        { key: "lift_interval", label: "Lift, always-valid 95%", cell: (v) => interval(v.lift_interval, signed) },
        { key: "significant", label: "Shown?", cell: (v) => (v.name === results.control ? "control" : v.significant ? "yes" : "not yet") },
      ],
      results.variants,
      { id: "variants" },
    ),
    h("h2", {}, "Act (admin key)"),
    ramp,
    stop,
    message,
  );
  if (timeline.points.length) {
    const labels = timeline.points.map((p) => p.at.slice(5, 16).replace("T", " "));
    const names = results.variants.map((v) => v.name);
    const at = (p, n) => p.variants.find((v) => v.name === n) || {};
    const [ctrFig, ctrCanvas] = figure("CTR per variant over time, with its 95% interval", `CTR of ${names.join(", ")} at the end of each day`, { id: "chart-ctr" });
    const [liftFig, liftCanvas] = figure(
      "Lift over the control, with its always-valid 95% interval",
      "Lift of each variant over the control at the end of each day; it is shown once the interval leaves zero",
      { id: "chart-lift" },
    );
    main.append(h("h2", {}, "Over time"), h("div", { class: "charts" }, ctrFig, liftFig));
    bands(ctrCanvas, labels, names.map((n) => ({ label: n, mid: timeline.points.map((p) => at(p, n).ctr ?? null), low: timeline.points.map((p) => (at(p, n).ctr_interval || {}).low ?? null), high: timeline.points.map((p) => (at(p, n).ctr_interval || {}).high ?? null) })), { yFormat: (v) => pct(v, 1) });
    const lifts = names.slice(1).map((n) => ({ label: n, mid: timeline.points.map((p) => at(p, n).lift ?? null), low: timeline.points.map((p) => (at(p, n).lift_interval || {}).low ?? null), high: timeline.points.map((p) => (at(p, n).lift_interval || {}).high ?? null) }));
    // the first days' intervals are very wide: the axis spans the later three quarters (and 0), the rest is cut
    const later = Math.floor(timeline.points.length / 4);
    const seen = lifts.flatMap((s) => [...s.low.slice(later), ...s.high.slice(later), ...s.mid.slice(later)]).filter((v) => v !== null);
    const span = seen.length ? [Math.min(0, ...seen), Math.max(0, ...seen)] : [undefined, undefined];
    const pad = seen.length ? (span[1] - span[0]) * 0.1 : 0;
    bands(liftCanvas, labels, lifts, { yFormat: signed, zeroLine: true, yMin: seen.length ? span[0] - pad : undefined, yMax: seen.length ? span[1] + pad : undefined });
  }
}

export async function render(name, ctx) {
  return name ? detail(name, ctx) : list(ctx.isCurrent);
}
