// Charts with Chart.js (vendored, shared/dummi/console/vendor): lines over days, stacked bars, and lines
// with an interval band. No animation: a view renders once, complete.
import { h } from "./dom.js";

// Distinguishable colours, each at 3:1 or more against white (WCAG non-text contrast).
export const PALETTE = ["#0b57d0", "#b3261e", "#146c2e", "#8e24aa", "#b35c00", "#00696f", "#5f6368", "#c2185b"];
const live = new Set();

export function destroyAll() {
  for (const chart of live) chart.destroy();
  live.clear();
}

// A figure with a caption and a canvas described for screen readers; returns [figure, canvas].
export function figure(caption, description, { tall = false, id } = {}) {
  const canvas = h("canvas", { role: "img", "aria-label": description });
  const fig = h("figure", { class: "chart", id }, h("figcaption", {}, caption), h("div", { class: tall ? "chart-box tall" : "chart-box" }, canvas));
  return [fig, canvas];
}

function make(canvas, config) {
  const chart = new window.Chart(canvas, config);
  live.add(chart);
  return chart;
}

function axes(yFormat, { stacked = false, yMin, yMax } = {}) {
  return {
    x: { stacked, ticks: { color: "#4a5260", maxRotation: 0, autoSkip: true } },
    y: {
      stacked,
      min: yMin,
      max: yMax,
      beginAtZero: yMin === undefined,
      ticks: { color: "#4a5260", callback: yFormat ? (v) => yFormat(v) : undefined },
    },
  };
}

function options(yFormat, extra = {}) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    scales: axes(yFormat, extra),
    plugins: {
      legend: { labels: { color: "#1b1f24", boxWidth: 12 } },
      tooltip: yFormat ? { callbacks: { label: (c) => `${c.dataset.label}: ${yFormat(c.parsed.y)}` } } : {},
    },
  };
}

// series: [{label, data: [number|null per label]}]
export function lines(canvas, labels, series, { yFormat } = {}) {
  return make(canvas, {
    type: "line",
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.data,
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        spanGaps: true,
        pointRadius: 2,
        borderWidth: 2,
      })),
    },
    options: options(yFormat),
  });
}

export function bars(canvas, labels, series, { yFormat, stacked = false } = {}) {
  return make(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.data,
        backgroundColor: PALETTE[i % PALETTE.length],
      })),
    },
    options: options(yFormat, { stacked }),
  });
}

// series: [{label, mid: [...], low: [...], high: [...]}]: each a line with its interval as a shaded band.
export function bands(canvas, labels, series, { yFormat, zeroLine = false, yMin, yMax } = {}) {
  const datasets = [];
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    datasets.push({ label: `${s.label} low`, data: s.low, borderWidth: 0, pointRadius: 0, fill: false, spanGaps: true, band: true });
    datasets.push({
      label: `${s.label} interval`,
      data: s.high,
      borderWidth: 0,
      pointRadius: 0,
      backgroundColor: `${colour}33`,
      fill: "-1",
      spanGaps: true,
      band: true,
    });
    datasets.push({ label: s.label, data: s.mid, borderColor: colour, backgroundColor: colour, borderWidth: 2, pointRadius: 2, spanGaps: true });
  });
  if (zeroLine) {
    datasets.push({ label: "no difference", data: labels.map(() => 0), borderColor: "#5f6368", borderDash: [4, 4], borderWidth: 1, pointRadius: 0 });
  }
  const opts = options(yFormat, { yMin, yMax });
  opts.plugins.legend.labels.filter = (item, data) => !data.datasets[item.datasetIndex].band;
  opts.plugins.tooltip.filter = (item) => !item.dataset.band;
  return make(canvas, { type: "line", data: { labels, datasets }, options: opts });
}
