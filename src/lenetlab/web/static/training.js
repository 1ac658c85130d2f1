// Training: the curves (drawn here, no chart library), a run still training watched live (GET /api/metrics), and
// the epoch scrubber: C1's kernels and a probe digit's C1 maps, epoch by epoch (train --keep-filters).
"use strict";
/* global LeNet, LeNetApp, Main */
/* exported Training */

const Training = (() => {
  const { EMBEDDED, MAP_CSS_PX, state, api, t, fmt, fmtInt, grayImage } = LeNetApp;
  const POLL_MS = 1000;
  const RUN_COLORS = ["#0969da", "#bc4c00", "#1a7f37", "#8250df", "#cf222e", "#4d2d00", "#1b7c83", "#9a6700"];

  function drawChart(canvas, series, yLabel, percentScale) {
    const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    const left = 52, right = 10, top = 12, bottom = 34;
    g.clearRect(0, 0, w, h);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, w, h);
    const points = series.flatMap((s) => s.values);
    if (!points.length) return;
    const n = Math.max(...series.map((s) => s.values.length));
    let lo = Math.min(...points), hi = Math.max(...points);
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const pad = (hi - lo) * 0.08, nonNegative = lo >= 0;
    lo -= pad; hi += pad;
    if (nonNegative) lo = Math.max(lo, 0);  // a loss is never below 0: no axis value says it could be
    const x = (i) => left + (n > 1 ? (i / (n - 1)) * (w - left - right) : (w - left - right) / 2);
    const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
    g.strokeStyle = "#d0d7de";
    g.fillStyle = "#656d76";
    g.font = "11px system-ui, sans-serif";
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {  // horizontal grid and its values
      const v = lo + (k / 4) * (hi - lo), yy = y(v);
      g.beginPath(); g.moveTo(left, yy); g.lineTo(w - right, yy); g.stroke();
      g.fillText(fmt(v, percentScale ? 1 : 3), 4, yy + 4);
    }
    const step = Math.max(1, Math.ceil(n / 10));
    for (let i = 0; i < n; i += step) g.fillText(String(i + 1), x(i) - 3, h - bottom + 14);
    g.fillText(`${t("train.epoch")} · ${yLabel}`, left, h - 4);
    for (const s of series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      s.values.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
      g.stroke();
      s.values.forEach((v, i) => { g.beginPath(); g.arc(x(i), y(v), 2.5, 0, 2 * Math.PI); g.fill(); });
    }
    const widths = series.map((s) => 24 + g.measureText(s.label).width);  // legend, right-aligned
    let lx = w - right - widths.reduce((a, b) => a + b, 0);
    series.forEach((s, i) => {
      g.fillStyle = s.color;
      g.fillRect(lx, top + 2, 10, 10);
      g.fillStyle = "#1f2328";
      g.fillText(s.label, lx + 14, top + 11);
      lx += widths[i];
    });
  }

  // m: GET /api/metrics (or the exported page's training); all: every served run's, when there are several.
  function show(m, all = null) {
    if (m.state === "unknown") return;
    const panel = document.getElementById("training-panel");
    if (!m.history || (!m.history.length && m.state !== "training")) return;
    panel.hidden = false;
    const history = m.history;
    if (all && all.length > 1) {  // several runs: each one's validation curves, overlaid
      const series = (key, scale) => all.map((r, k) => ({ label: state.runs[k].name, color: RUN_COLORS[k % RUN_COLORS.length],
                                                          values: (r.history || []).map((e) => scale * e[key]) }));
      drawChart(document.getElementById("curve-loss"), series("valid_loss", 1), `${t("train.valid")} · ${t("train.loss")}`, false);
      drawChart(document.getElementById("curve-accuracy"), series("valid_accuracy", 100), t("train.accuracy"), true);
      document.body.dataset.series = String(all.length);
    } else {
      drawChart(document.getElementById("curve-loss"), [
        { label: t("train.train"), color: "#0969da", values: history.map((r) => r.train_loss) },
        { label: t("train.valid"), color: "#bc4c00", values: history.map((r) => r.valid_loss) },
      ], t("train.loss"), false);
      drawChart(document.getElementById("curve-accuracy"), [
        { label: t("train.valid"), color: "#1a7f37", values: history.map((r) => 100 * r.valid_accuracy) },
      ], t("train.accuracy"), true);
    }
    const parts = [];
    if (m.state === "training") {
      parts.push(t("train.epoch_of", { epoch: m.epoch, epochs: m.epochs }));
      if (m.seconds_per_epoch != null) parts.push(t("train.per_epoch", { s: fmt(m.seconds_per_epoch, 1) }));
      if (m.remaining_seconds != null) parts.push(t("train.left", { s: fmtInt(m.remaining_seconds) }));
      const inEpoch = m.steps_per_epoch ? Math.min(1, m.step / m.steps_per_epoch) : 0;
      document.getElementById("epoch-progress").style.width = `${(100 * inEpoch).toFixed(1)}%`;
    } else {
      const key = { finished: "train.finished", interrupted: "train.interrupted", failed: "train.failed" }[m.state];
      if (key) parts.push(t(key, { n: history.length }));
      document.getElementById("epoch-progress").style.width = m.state === "finished" ? "100%" : "0";
    }
    if (state.modelEpoch != null) parts.push(t("train.model_epoch", { epoch: state.modelEpoch }));
    else if (!EMBEDDED && m.state === "training") parts.push(t("train.waiting"));
    document.getElementById("training-status").textContent = parts.join(" · ");
    document.body.dataset.epochs = String(history.length);
    document.body.dataset.training = m.state;
  }

  async function poll() {
    state.polling = true;
    try {
      const all = await Promise.all(state.runs.map(async (r) => (await fetch(`/api/metrics?run=${r.run}`)).json()));
      const m = all[state.run];
      // A newer best.pt: the drawing panel moves to it (and redraws the current input with it).
      if (m.model_epoch != null && m.model_epoch !== state.modelEpoch) await Main.loadModel();
      else if (state.graph && (!state.scrub || state.scrub.epochs.length < m.history.length)) loadScrubber();
      show(m, all);
      // "unknown": the folder is there but training has not written its first progress yet
      if (all.some((r) => r.state === "training" || r.state === "unknown")) { setTimeout(poll, POLL_MS); return; }
      if (m.state === "finished" && state.modelEpoch !== m.model_epoch) await Main.loadModel();
    } catch {
      // the server went away: the page keeps what it has
    }
    state.polling = false;
  }

  // ----- the epoch scrubber: C1's kernels and a probe digit's C1 maps, epoch by epoch (train --keep-filters) -----
  async function loadScrubber() {
    const response = await fetch(api("/api/filters"));
    if (!response.ok) return;
    const data = await response.json();
    if (!data.epochs.length || (state.scrub && state.scrub.epochs.length === data.epochs.length)) return;
    for (const e of data.epochs) LeNet.load({ stages: [{ name: "C1", ops: e.ops }] });
    state.scrub = data;
    const slider = document.getElementById("scrub-slider");
    slider.max = String(data.epochs.length - 1);
    slider.value = String(data.epochs.length - 1);
    document.getElementById("scrub-note").textContent = t("scrub.note", { index: data.probe.index,
                                                                             label: state.classNames[data.probe.label] });
    document.getElementById("scrubber").hidden = false;
    showEpoch(data.epochs.length - 1);
  }

  function kernelCanvases(box, count, size, scale) {
    while (box.children.length > count) box.lastChild.remove();
    while (box.children.length < count) {
      const cv = document.createElement("canvas");
      cv.width = size; cv.height = size;
      cv.style.width = `${size * scale}px`; cv.style.height = `${size * scale}px`;
      box.appendChild(cv);
    }
    return [...box.children];
  }

  function showEpoch(i) {
    const scrub = state.scrub, e = scrub.epochs[i], conv = e.ops[0], [cout, , k] = conv.w.shape;
    const W = conv.w.values;
    const limit = Math.max(...Array.from(W, Math.abs)) || 1;  // symmetric: grey is 0, light positive, dark negative
    kernelCanvases(document.getElementById("scrub-kernels"), cout, k, Math.round(MAP_CSS_PX / k)).forEach((cv, c) => {
      const rows = [];
      for (let y = 0; y < k; y++) rows.push(Array.from(W.subarray((c * k + y) * k, (c * k + y + 1) * k)));
      grayImage(cv, rows, -limit, limit);
      cv.dataset.values = rows.flat().map((v) => v.toFixed(6)).join(",");
    });
    const mapsBox = document.getElementById("scrub-maps");
    if (e.maps) {
      const pixels = scrub.probe.image.flat().map((v) => v / 255);
      const out = LeNet.forward({ input: [1, 28, 28], stages: [{ name: "C1", ops: e.ops }] }, pixels).stages[0].output;
      const [c, h, w] = out.shape;
      let lo = Infinity, hi = -Infinity;
      for (const v of out.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      kernelCanvases(mapsBox, c, h, Math.max(1, Math.round(MAP_CSS_PX / h))).forEach((cv, ch) => {
        const rows = [];
        for (let y = 0; y < h; y++) rows.push(Array.from(out.data.subarray((ch * h + y) * w, (ch * h + y + 1) * w)));
        grayImage(cv, rows, lo, hi);
      });
    } else {
      mapsBox.innerHTML = "";
    }
    document.getElementById("scrub-epoch").textContent = t("scrub.epoch", { epoch: e.epoch });
    document.getElementById("scrubber").dataset.epoch = String(e.epoch);
  }

  document.getElementById("scrub-slider").addEventListener("input", (event) => showEpoch(Number(event.target.value)));

  return { show, poll, loadScrubber };
})();
