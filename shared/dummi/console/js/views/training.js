// Training: runs with state, engine, stage timings (a stacked bar per run), holdout scores and the publish
// decision; start a run (admin) and follow it to its end (GET /training/status, POST /training/train); the event
// types and the weights training reads (GET /event-types, a read key).
import { api, explain } from "../api.js";
import { h, clear, when, duration, fixed, table, field, toast } from "../dom.js";
import { figure, bars } from "../charts.js";

const RUNS = 20;
const POLL_MS = 1500;

function seconds(run) {
  if (!run.started_at) return null;
  const end = run.finished_at ? new Date(run.finished_at) : new Date();
  return (end - new Date(run.started_at)) / 1000;
}

function decision(run) {
  const d = run.decision;
  if (!d) return run.error ? h("span", { class: "bad" }, run.error) : "–";
  return h("span", {}, h("strong", { class: d.action === "published" ? "good" : "warn" }, d.action), `: ${d.reason}`);
}

function stageList(run) {
  return run.stages.length ? run.stages.map((s) => `${s.name} ${s.seconds.toFixed(1)} s`).join(" · ") : "no stage finished yet";
}

function runsTable(runs) {
  return table(
    runs.length === 1 ? "The only run" : `Last ${runs.length} runs, newest first`,
    [
      { key: "created", label: "Requested", cell: (r) => when(r.created_at) },
      { key: "state", label: "State", cell: (r) => r.state },
      { key: "trigger", label: "Trigger", cell: (r) => r.trigger },
      { key: "engine", label: "Engine", cell: (r) => r.engine || "–" },
      { key: "took", label: "Took", num: true, cell: (r) => duration(seconds(r)) },
      { key: "new", label: "Holdout NDCG@10 new", num: true, cell: (r) => fixed(r.decision && r.decision.new_ndcg, 4) },
      { key: "serving", label: "serving", num: true, cell: (r) => fixed(r.decision && r.decision.serving_ndcg, 4) },
      { key: "decision", label: "Decision", cell: decision },
      { key: "version", label: "Model after", cell: (r) => r.model_version || "–" },
    ],
    runs.map((r) => ({ ...r, _class: r.state === "running" || r.state === "queued" ? "selected" : null })),
    { id: "runs" },
  );
}

function stageChart(runs) {
  const done = runs.filter((r) => r.stages.length).slice(0, 12).reverse();
  const names = [...new Set(done.flatMap((r) => r.stages.map((s) => s.name)))];
  const labels = done.map((r) => r.created_at.slice(5, 16).replace("T", " "));
  const [fig, canvas] = figure("Stage timings per run (seconds)", `Seconds per training stage for the last ${done.length} runs`, { tall: true, id: "chart-stages" });
  return [fig, () => bars(canvas, labels, names.map((n) => ({ label: n, data: done.map((r) => (r.stages.find((s) => s.name === n) || {}).seconds ?? 0) })), { stacked: true, yFormat: (v) => `${v} s` })];
}

function eventTypes(types) {
  if (types instanceof Error) return h("p", { class: "notice", id: "event-types" }, `Event types: ${explain(types)}`);
  return table(
    "Event types: the weights training and the real-time fold-in read (PUT /event-types/{name} to add or tune one)",
    [
      { key: "name", label: "Type", cell: (t) => t.name },
      { key: "weight", label: "Weight", num: true, cell: (t) => fixed(t.weight, 2) },
      { key: "builtin", label: "Built in", cell: (t) => (t.builtin ? "yes" : "no") },
      { key: "description", label: "Meaning", cell: (t) => t.description || "–" },
    ],
    types,
    { id: "event-types" },
  );
}

export async function render(_arg, { isCurrent, rerender }) {
  const [status, types] = await Promise.all([
    api("/training/status", { query: { limit: RUNS } }),
    api("/event-types").catch((error) => error), // a failed read is shown in the view
  ]);
  if (!isCurrent()) return;
  const main = clear(document.getElementById("main"));
  const message = h("p", { id: "train-message", role: "status" });
  const retrain = h("input", { type: "checkbox", id: "opt-retrain-cf", checked: true });
  const force = h("input", { type: "checkbox", id: "opt-force" });
  const engine = h("select", { id: "opt-engine" }, ["auto", "local", "spark"].map((e) => h("option", { value: e }, e)));
  const start = h("button", { type: "submit", id: "start-run", disabled: Boolean(status.active) }, "Start a run");
  const form = h(
    "form",
    { class: "inline", id: "train-form", "aria-label": "Start a training run" },
    h("div", { class: "field" }, h("label", { for: "opt-retrain-cf" }, "Refit CF"), retrain),
    h("div", { class: "field" }, h("label", { for: "opt-force" }, "Publish even if worse"), force),
    field("Engine", engine),
    start,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    try {
      const run = await api("/training/train", { method: "POST", body: { retrain_cf: retrain.checked, force: force.checked, engine: engine.value } });
      toast(`Training run ${run.run_id} queued`);
      rerender();
    } catch (error) {
      message.className = "error";
      message.textContent = explain(error);
      start.disabled = Boolean(status.active);
    }
  });
  main.append(h("h1", {}, "Training"), form, message);

  let timer = null;
  const active = status.active;
  if (active) {
    const elapsed = seconds(active);
    main.append(
      h(
        "div",
        { class: "notice", id: "active-run" },
        h("strong", {}, `Run ${active.run_id} is ${active.state}`),
        ` (${active.engine || "engine not chosen yet"}, ${duration(elapsed)} so far). `,
        h("span", { id: "active-stages" }, `Stages done: ${stageList(active)}.`),
        h("br"),
        h("progress", { "aria-label": "training progress" }),
      ),
    );
    timer = setTimeout(() => isCurrent() && rerender(), POLL_MS);
  }
  const last = status.runs.find((r) => r.state === "succeeded" || r.state === "failed");
  if (last && !active) {
    main.append(h("p", { class: last.state === "succeeded" ? "notice" : "notice bad", id: "last-run" }, `Last run ${last.state} ${when(last.finished_at)} — `, decision(last)));
  }
  main.append(runsTable(status.runs));
  main.append(eventTypes(types));
  if (status.runs.some((r) => r.stages.length)) {
    const [fig, draw] = stageChart(status.runs);
    main.append(h("div", { class: "charts" }, fig));
    draw();
  }
  return { cleanup: () => clearTimeout(timer) };
}
