// Where a value comes from: click a unit of any layer, see the arithmetic of this input (LeNet.explain), its
// receptive field outlined on the layer below. And the attribution overlay (served page only): which pixels made
// the network say what it said (POST /api/explain).
"use strict";
/* global LeNet, LeNetApp */
/* exported Explain */

const Explain = (() => {
  const { EMBEDDED, state, api, t, fmt, fmtInt, fmtPercent, layerLabel, belowLabel, activationLabel, el,
          table } = LeNetApp;

  function line(text, key, value) {
    const p = document.createElement("p");
    p.className = "explain-line";
    p.textContent = `${text} = `;
    const b = document.createElement("b");
    b.textContent = fmt(value, 4);
    b.dataset.key = key;
    b.dataset.value = String(value);  // the full number, for anyone checking the arithmetic
    p.appendChild(b);
    return p;
  }

  function open(stage, unit) {
    if (!state.trace) return;
    state.explained = [stage, unit];
    const e = LeNet.explain(state.trace, stage, unit);
    const body = el.explainBody;
    body.innerHTML = "";
    const title = document.createElement("h3");
    title.textContent = unit.length === 3 ? t("explain.map_unit", { layer: layerLabel(stage), c: unit[0] + 1, y: unit[1] + 1, x: unit[2] + 1 })
      : t("explain.vector_unit", { layer: layerLabel(stage), i: unit[0] + 1 });
    body.appendChild(title);
    const say = (text) => { const p = document.createElement("p"); p.textContent = text; body.appendChild(p); };
    const actName = activationLabel(e.activation) || t("explain.no_activation");
    if (e.kind === "conv") {
      const n = e.inputs.length * e.window.size * e.window.size;
      say(t("explain.conv", { k: e.window.size, c: unit[0] + 1, below: belowLabel(e.below), n: fmtInt(n), act: actName }));
      if (e.batchNormFolded) say(t("explain.conv_folded"));
      const channels = e.inputs.length;
      if (channels > 1) {
        const rows = [[t("explain.channel"), t("explain.channel_sum")]];
        e.products.forEach((ch, i) => rows.push([String(i + 1), ch.flat().reduce((a, b) => a + b, 0)]));
        body.appendChild(table(rows, "channels"));
      }
      const shown = channels > 1 ? Math.min(channels, 2) : 1;
      for (let ci = 0; ci < shown; ci++) {
        const grid = document.createElement("div");
        grid.className = "explain-grids";
        for (const [key, values] of [["explain.inputs", e.inputs[ci]], ["explain.kernel", e.kernel[ci]],
                                     ["explain.products", e.products[ci]]]) {
          const fig = document.createElement("figure");
          const cap = document.createElement("figcaption");
          cap.textContent = `${t(key, { below: belowLabel(e.below) })}${channels > 1 ? ` · ${t("explain.channel")} ${ci + 1}` : ""}`;
          fig.appendChild(cap);
          fig.appendChild(table(values));
          grid.appendChild(fig);
        }
        body.appendChild(grid);
      }
      body.appendChild(line(t("explain.sum"), "sum", e.sum));
      body.appendChild(line(t("explain.bias"), "bias", e.bias));
      body.appendChild(line(t("explain.pre"), "pre", e.sum + e.bias));
      body.appendChild(line(e.activation ? t("explain.activation", { act: actName }) : t("explain.result"), "value", e.value));
      outlineReceptiveField(e);
    } else if (e.kind === "pool") {
      say(t(e.pooling === "max" ? "explain.pool_max" : "explain.pool_avg", { k: e.size, below: belowLabel(e.below) }));
      body.appendChild(table(e.window));
      body.appendChild(line(t("explain.result"), "value", e.value));
      outlineReceptiveField({ ...e, window: { top: e.top, left: e.left, size: e.size } });
    } else if (e.kind === "linear") {
      say(t(e.probability !== undefined ? "explain.linear_output" : "explain.linear", { n: fmtInt(e.inputs), below: belowLabel(e.below), act: actName }));
      const rows = [[t("explain.index"), t("explain.value"), t("explain.weight"), t("explain.product")]];
      for (const c of e.top) rows.push([String(c.i + 1), c.input, c.weight, c.product]);
      const cap = document.createElement("p");
      cap.className = "muted";
      cap.textContent = t("explain.top", { n: e.top.length });
      body.appendChild(cap);
      body.appendChild(table(rows, "contributions"));
      body.appendChild(line(t("explain.sum"), "sum", e.sum));
      body.appendChild(line(t("explain.bias"), "bias", e.bias));
      body.appendChild(line(t("explain.pre"), "pre", e.sum + e.bias));
      body.appendChild(line(e.activation ? t("explain.activation", { act: actName }) : t("explain.result"), "value", e.value));
      if (e.probability !== undefined) {
        const p = document.createElement("p");
        p.className = "explain-line";
        p.textContent = t("explain.softmax", { z: fmt(e.value, 4), p: fmtPercent(e.probability, 2) });
        p.dataset.probability = String(e.probability);
        body.appendChild(p);
      }
      clearOutline();
    }
    el.explain.hidden = false;
    el.explain.dataset.stage = stage;
    el.explain.dataset.unit = unit.join(",");
  }

  function clearOutline() {
    for (const box of document.querySelectorAll(".receptive")) box.remove();
  }

  // Outline the receptive field on the layer below (the input canvas for the first stage).
  function outlineReceptiveField(e) {
    clearOutline();
    const belowView = state.layerViews[e.below];
    const targets = belowView ? belowView.canvases : [el.input];
    const { top, left, size } = e.window;
    const channel = e.kind === "pool" ? [e.unit[0]] : null;
    targets.forEach((cv, i) => {
      if (channel && i !== channel[0]) return;
      const holder = cv.parentElement;
      holder.classList.add("has-outline");
      const box = document.createElement("div");
      box.className = "receptive";
      const sx = cv.clientWidth / cv.width, sy = cv.clientHeight / cv.height;
      Object.assign(box.style, { left: `${cv.offsetLeft + left * sx}px`, top: `${cv.offsetTop + top * sy}px`,
                                 width: `${size * sx}px`, height: `${size * sy}px` });
      holder.appendChild(box);
    });
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = t("explain.receptive", { below: belowLabel(e.below) });
    el.explainBody.appendChild(note);
  }

  function close() {
    state.explained = null;
    el.explain.hidden = true;
    clearOutline();
  }

  // ----- the attribution overlay (served page only): which pixels made the network say what it said -----
  function hideOverlay() {
    el.overlayCanvas.hidden = true;
    el.overlayNote.hidden = true;
    delete document.body.dataset.overlay;
  }

  // The overlay the reader chose, for the latest prediction; `mine`: the drawing's generation it belongs to.
  async function overlay(mine) {
    const method = el.overlay.value, result = state.lastResult;
    if (!method || !result || EMBEDDED) { hideOverlay(); return; }
    try {
      const response = await fetch(api("/api/explain"), {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ array: result.input, method, target: result.label }) });
      const body = await response.json();
      if (mine !== state.generation || method !== el.overlay.value) return;
      if (!response.ok) { el.status.textContent = body.error || t("page.error", { status: response.status }); return; }
      drawOverlay(body.map, body.max_abs);
      document.body.dataset.overlay = method;
    } catch (err) {
      if (mine === state.generation) el.status.textContent = t("page.no_server", { error: err.message });
    }
  }

  function drawOverlay(map, maxAbs) {
    // Diverging colours centred on zero, as the explore figures: red > 0, blue < 0, transparent at 0.
    const g = el.overlayCanvas.getContext("2d");
    const img = g.createImageData(28, 28);
    const scale = maxAbs || 1;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = Math.max(-1, Math.min(1, map[y][x] / scale)), i = 4 * (28 * y + x);
        img.data[i] = v > 0 ? 220 : 40;
        img.data[i + 1] = 60;
        img.data[i + 2] = v > 0 ? 40 : 220;
        img.data[i + 3] = Math.round(230 * Math.abs(v));
      }
    }
    g.putImageData(img, 0, 0);
    el.overlayCanvas.hidden = false;
    el.overlayNote.hidden = false;
  }

  document.getElementById("explain-close").addEventListener("click", close);
  el.overlay.addEventListener("change", () => overlay(state.generation));

  return { open, close, hideOverlay, overlay };
})();
