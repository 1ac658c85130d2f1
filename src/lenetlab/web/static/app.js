// The draw-a-digit page: plain JavaScript, no framework, no build step, nothing fetched from elsewhere.
// One front end for two pages. Served (lenetlab serve): a drawing goes as a PNG to POST /api/predict, at most
// one request in flight and one every THROTTLE_MS while the pen moves; the server preprocesses it like
// `predict`. Exported (lenetlab export): window.LENETLAB_EMBEDDED holds the model and a few test digits, and
// the page preprocesses the drawing itself (lenet.js, Pillow's arithmetic). In both, lenet.js runs the network
// on the 28x28 input to draw every layer and to explain any value a student clicks.
// The confusion matrix (and two runs side by side) is confusion.js, the projector projector.js.
"use strict";

const THROTTLE_MS = 120;
const PEN_WIDTH = 18;          // in canvas pixels of the 280x280 pad: about MNIST's stroke once shrunk to 20x20
const MAP_CSS_PX = 56;         // every feature map is shown about this big, whatever its size
const EMBEDDED = window.LENETLAB_EMBEDDED || null;
const LANG = window.LENETLAB_LANG || "en";
const MESSAGES = window.LENETLAB_MESSAGES || {};

// ----- which run (lenetlab serve RUN1 RUN2 ...): every API call says it -----
let RUN = 0;
let RUNS = [];
const api = (path) => `${path}${path.includes("?") ? "&" : "?"}run=${RUN}`;

// ----- words and numbers in the page's language -----
function t(key, values = {}) {
  const text = MESSAGES[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}
// Every number the page writes goes through LeNet.formatNumber (lenet.js): in French 61 706, 0,735 and the true
// minus sign −0,735, like the report and the figures (lenetlab.i18n.number).
const fmt = (v, digits = 4) => LeNet.formatNumber(v, LANG, digits);
const fmtInt = (v) => LeNet.formatNumber(v, LANG, 0);
const fmtPercent = (p, digits = 1) => `${fmt(100 * p, digits)}${LANG === "fr" ? "\u202f" : " "}%`;
// A layer's name as the reader says it: "output" is « sortie » in French; C1, S2, F6... are names.
const layerLabel = (name) => MESSAGES[`page.layer.${name}`] ?? name;
// The layer below a value, inside a sentence: « glisse sur l'image d'entrée », « glisse sur S2 ».
const belowLabel = (name) => MESSAGES[`page.below.${name}`] ?? layerLabel(name);
// An activation function's name: tanh and ReLU are names, « sigmoïde » and « tanh mise à l'échelle » are words.
const activationLabel = (fn) => (fn ? MESSAGES[`value.${fn}`] ?? fn : fn);

function translateStatic() {
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}

// The page's elements, by id.
const [pad, inputCanvas, statusLine, trueLabel, predLabel, predProb, barsBox, layersBox, overlaySelect, overlayCanvas,
       overlayNote, explainBox, explainBody] = ["pad", "input", "status", "true-label", "pred-label", "pred-prob", "bars",
                       "layers", "overlay", "attribution", "overlay-note", "explain", "explain-body"]
  .map((id) => document.getElementById(id));
const ctx = pad.getContext("2d");

let classNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
let graph = null;              // the model as lenet.js evaluates it
let trace = null;              // every value of the latest forward pass, for the explanations
let drawing = false;
let hasInk = false;
let last = null;
let inFlight = false;
let dirty = false;
let lastSent = 0;
let timer = null;
let generation = 0;            // bumped by "clear" and "random" so late answers to old drawings are dropped
const layerViews = {};
let lastResult = null;         // the latest prediction, which the attribution overlay explains
let explained = null;          // [stage, unit] of the open explanation

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
}

function resetResult(message) {
  generation += 1;
  dirty = false;
  if (timer) { clearTimeout(timer); timer = null; }
  predLabel.textContent = "–";
  predProb.textContent = "";
  trueLabel.hidden = true;
  delete trueLabel.dataset.label;
  delete document.body.dataset.predicted;
  inputCanvas.getContext("2d").clearRect(0, 0, 28, 28);
  lastResult = null;
  trace = null;
  hideOverlay();
  closeExplain();
  statusLine.textContent = message;
}

// ----- drawing with mouse, pen or finger (pointer events cover all three) -----
function point(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) * pad.width / rect.width, (event.clientY - rect.top) * pad.height / rect.height];
}

function strokeTo(p) {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = PEN_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(last[0], last[1]);
  ctx.lineTo(p[0], p[1]);
  ctx.stroke();
  last = p;
  hasInk = true;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  if (trueLabel.dataset.label !== undefined) { trueLabel.hidden = true; delete trueLabel.dataset.label; }
  drawing = true;
  last = point(event);
  // A tap leaves a dot: canvas drops zero-length strokes, so fill a circle instead.
  ctx.fillStyle = "#000";
  ctx.beginPath();
  ctx.arc(last[0], last[1], PEN_WIDTH / 2, 0, 2 * Math.PI);
  ctx.fill();
  hasInk = true;
  schedulePredict();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  event.preventDefault();
  strokeTo(point(event));
  schedulePredict();
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  schedulePredict(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

// ----- from a drawing to a prediction -----
function schedulePredict(now = false) {
  if (!hasInk) return;
  if (EMBEDDED) { predictHere(); return; }  // in the page itself: milliseconds, no throttling needed
  if (inFlight) { dirty = true; return; }
  const wait = now ? 0 : Math.max(0, THROTTLE_MS - (performance.now() - lastSent));
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => { timer = null; sendDrawing(); }, wait);
}

function predictHere() {
  const pixels = LeNet.preprocess(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
  if (pixels === null) { statusLine.textContent = t("page.no_digit"); return; }
  render(runNetwork(pixels));
}

function sendDrawing() {
  const mine = generation;
  inFlight = true;
  lastSent = performance.now();
  pad.toBlob((blob) => {
    const form = new FormData();
    form.append("image", blob, "digit.png");
    predictOnServer({ method: "POST", body: form }, mine);
  }, "image/png");
}

async function predictOnServer(init, mine) {
  inFlight = true;
  try {
    const response = await fetch(api("/api/predict"), init);
    const body = await response.json();
    if (mine !== generation) return;
    if (!response.ok) { statusLine.textContent = body.error || t("page.error", { status: response.status }); return; }
    // The server's preprocessing is the reference; the layers and explanations come from the same input here.
    render(graph ? runNetwork(body.input.flat()) : body);
  } catch (err) {
    if (mine === generation) statusLine.textContent = t("page.no_server", { error: err.message });
  } finally {
    inFlight = false;
    if (dirty) { dirty = false; schedulePredict(); }
  }
}

// lenet.js's forward pass, shaped like the server's answer to /api/predict.
function runNetwork(pixels) {
  trace = LeNet.forward(graph, pixels);
  const activations = {};
  for (const stage of trace.stages) {
    if (stage.name === "flatten") continue;
    const out = stage.output;
    let values, shape = out.shape, kind = "vector";
    if (shape.length === 3 && shape[1] * shape[2] > 1) {
      kind = "maps";
      values = [];
      for (let c = 0; c < shape[0]; c++) {
        const map = [];
        for (let y = 0; y < shape[1]; y++) map.push(Array.from(out.data.subarray((c * shape[1] + y) * shape[2], (c * shape[1] + y + 1) * shape[2])));
        values.push(map);
      }
    } else {
      shape = [out.data.length];  // C5 is 120 maps of 1x1: a strip, not maps
      values = Array.from(out.data);
    }
    let min = Infinity, max = -Infinity;
    for (const v of out.data) { min = Math.min(min, v); max = Math.max(max, v); }
    activations[stage.name] = { kind, shape, min, max, values };
  }
  const input = [];
  for (let y = 0; y < 28; y++) input.push(pixels.slice(28 * y, 28 * y + 28));
  return { label: trace.label, class_name: classNames[trace.label], probabilities: trace.probabilities, input,
           activations };
}

async function randomTestImage() {
  clearPad();
  resetResult(t("page.loading_random"));
  if (EMBEDDED) { showSample(EMBEDDED.samples[Math.floor(Math.random() * EMBEDDED.samples.length)]); return; }
  const mine = generation;
  try {
    const response = await fetch(api("/api/random"));
    const sample = await response.json();
    if (!response.ok) { statusLine.textContent = sample.error || t("page.error", { status: response.status }); return; }
    if (mine !== generation) return;
    showTrueLabel(sample.index, sample.label);
    showDigitOnPad(sample.image);
    // The test digit is already MNIST's 28x28: it goes to the network as it is, no preprocessing.
    await predictOnServer({ method: "POST", headers: { "Content-Type": "application/json" },
                           body: JSON.stringify({ array: sample.image }) }, mine);
  } catch (err) {
    statusLine.textContent = t("page.no_server", { error: err.message });
  }
}

function showTrueLabel(index, label) {
  trueLabel.hidden = false;
  trueLabel.dataset.label = String(label);
  trueLabel.dataset.index = String(index);
  trueLabel.textContent = t("page.true_label", { index, name: classNames[label] });
}

function showSample(sample) {
  clearPad();
  resetResult("");
  showTrueLabel(sample.index, sample.label);
  showDigitOnPad(sample.image);
  render(runNetwork(sample.image.flat().map((v) => v / 255)));
}

function showDigitOnPad(image) {
  // MNIST is white ink on black; the pad is black ink on white paper, so show it inverted and enlarged.
  const small = document.createElement("canvas");
  small.width = 28; small.height = 28;
  const pixels = small.getContext("2d").createImageData(28, 28);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = 255 - image[y][x], i = 4 * (28 * y + x);
      pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = v;
      pixels.data[i + 3] = 255;
    }
  }
  small.getContext("2d").putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, pad.width, pad.height);
  hasInk = true;
}

// ----- showing the answer -----
function grayImage(canvas, rows, lo, hi) {
  const h = rows.length, w = rows[0].length;
  const g = canvas.getContext("2d");
  const img = g.createImageData(w, h);
  const span = hi - lo || 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.round(255 * Math.min(1, Math.max(0, (rows[y][x] - lo) / span))), i = 4 * (w * y + x);
      img.data[i] = img.data[i + 1] = img.data[i + 2] = v;
      img.data[i + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
}

function buildBars() {
  barsBox.innerHTML = "";
  classNames.forEach((name, k) => {
    const label = document.createElement("div");
    label.textContent = name;
    label.className = "bar-name";
    const track = document.createElement("div");
    track.className = "bar-track";
    track.setAttribute("role", "meter");
    track.setAttribute("aria-label", t("page.probability_of", { name }));
    const fill = document.createElement("div");
    fill.className = "bar-fill";
    track.appendChild(fill);
    const value = document.createElement("div");
    value.className = "bar-value";
    value.textContent = "–";
    for (const el of [label, track, value]) { el.dataset.k = k; barsBox.appendChild(el); }
  });
}

function layerView(name, act) {
  const key = `${name}:${act.kind}:${act.shape.join("x")}`;
  if (layerViews[name] && layerViews[name].key === key) return layerViews[name];
  const box = document.createElement("div");
  box.className = "layer";
  box.dataset.layer = name;
  const title = document.createElement("div");
  title.className = "layer-title";
  const what = act.kind === "maps" ? t("page.maps", { n: act.shape[0], h: act.shape[1], w: act.shape[2] })
    : t("page.units", { n: fmtInt(act.shape[0]) });
  title.textContent = `${layerLabel(name)} `;
  const detail = document.createElement("span");
  detail.textContent = `· ${what}${name === "output" ? t("page.before_softmax") : ""}`;
  title.appendChild(detail);
  box.appendChild(title);
  const canvases = [];
  if (act.kind === "maps") {
    const maps = document.createElement("div");
    maps.className = "maps";
    const [c, h, w] = act.shape;
    const scale = Math.max(1, Math.round(MAP_CSS_PX / h));
    for (let i = 0; i < c; i++) {
      const holder = document.createElement("div");
      holder.className = "map";
      const cv = document.createElement("canvas");
      cv.width = w; cv.height = h;
      cv.style.width = `${w * scale}px`; cv.style.height = `${h * scale}px`;
      cv.title = t("page.map_title", { layer: layerLabel(name), i: i + 1 });
      cv.dataset.channel = String(i);
      cv.addEventListener("click", (event) => {
        const r = cv.getBoundingClientRect();
        const x = Math.min(w - 1, Math.floor((event.clientX - r.left) * w / r.width));
        const y = Math.min(h - 1, Math.floor((event.clientY - r.top) * h / r.height));
        openExplain(name, [i, y, x]);
      });
      holder.appendChild(cv);
      maps.appendChild(holder);
      canvases.push(cv);
    }
    box.appendChild(maps);
  } else {
    const cv = document.createElement("canvas");
    cv.className = "strip";
    cv.width = act.shape[0]; cv.height = 1;
    cv.title = t("page.units_title", { layer: layerLabel(name), n: fmtInt(act.shape[0]) });
    cv.addEventListener("click", (event) => {
      const r = cv.getBoundingClientRect();
      openExplain(name, [Math.min(act.shape[0] - 1, Math.floor((event.clientX - r.left) * act.shape[0] / r.width))]);
    });
    box.appendChild(cv);
    canvases.push(cv);
  }
  if (layerViews[name]) layerViews[name].box.replaceWith(box); else layersBox.appendChild(box);
  layerViews[name] = { key, box, canvases };
  return layerViews[name];
}

function render(result) {
  grayImage(inputCanvas, result.input, 0, 1);
  const p = result.probabilities;
  predLabel.textContent = result.class_name;
  predProb.textContent = t("page.sure", { p: fmtPercent(p[result.label]) });
  document.body.dataset.predicted = String(result.label);
  if (barsBox.children.length !== 3 * p.length) buildBars();
  const cells = barsBox.children;
  for (let k = 0; k < p.length; k++) {
    const top = k === result.label;
    for (let j = 0; j < 3; j++) cells[3 * k + j].classList.toggle("bar-top", top);
    cells[3 * k + 1].firstChild.style.width = `${(100 * p[k]).toFixed(2)}%`;
    cells[3 * k + 1].setAttribute("aria-valuenow", p[k].toFixed(4));
    cells[3 * k + 2].textContent = fmtPercent(p[k]);
  }
  for (const [name, act] of Object.entries(result.activations)) {
    const view = layerView(name, act);
    if (act.kind === "maps") act.values.forEach((map, i) => grayImage(view.canvases[i], map, act.min, act.max));
    else grayImage(view.canvases[0], [act.values], act.min, act.max);
  }
  statusLine.textContent = trueLabel.dataset.label !== undefined
    ? (String(result.label) === trueLabel.dataset.label ? t("page.right") : t("page.wrong"))
    : t("page.keep_drawing");
  lastResult = result;
  if (explained && trace) openExplain(...explained);
  explainOverlay(generation);
}

// ----- where a value comes from: click a unit, see the arithmetic of this input -----
function table(rows, className = "") {
  const el = document.createElement("table");
  el.className = `numbers ${className}`;
  for (const row of rows) {
    const tr = el.insertRow();
    for (const v of row) tr.insertCell().textContent = typeof v === "number" ? fmt(v, 3) : v;
  }
  return el;
}

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

function openExplain(stage, unit) {
  if (!trace) return;
  explained = [stage, unit];
  const e = LeNet.explain(trace, stage, unit);
  const body = explainBody;
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
  explainBox.hidden = false;
  explainBox.dataset.stage = stage;
  explainBox.dataset.unit = unit.join(",");
}

function clearOutline() {
  for (const el of document.querySelectorAll(".receptive")) el.remove();
}

// Outline the receptive field on the layer below (the input canvas for the first stage).
function outlineReceptiveField(e) {
  clearOutline();
  const belowView = layerViews[e.below];
  const targets = belowView ? belowView.canvases : [inputCanvas];
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
  explainBody.appendChild(note);
}

function closeExplain() {
  explained = null;
  explainBox.hidden = true;
  clearOutline();
}

// ----- the attribution overlay (served page only): which pixels made the network say what it said -----
function hideOverlay() {
  overlayCanvas.hidden = true;
  overlayNote.hidden = true;
  delete document.body.dataset.overlay;
}

async function explainOverlay(mine) {
  const method = overlaySelect.value;
  if (!method || !lastResult || EMBEDDED) { hideOverlay(); return; }
  try {
    const response = await fetch(api("/api/explain"), {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ array: lastResult.input, method, target: lastResult.label }) });
    const body = await response.json();
    if (mine !== generation || method !== overlaySelect.value) return;
    if (!response.ok) { statusLine.textContent = body.error || t("page.error", { status: response.status }); return; }
    drawOverlay(body.map, body.max_abs);
    document.body.dataset.overlay = method;
  } catch (err) {
    if (mine === generation) statusLine.textContent = t("page.no_server", { error: err.message });
  }
}

function drawOverlay(map, maxAbs) {
  // Diverging colours centred on zero, as the explore figures: red > 0, blue < 0, transparent at 0.
  const g = overlayCanvas.getContext("2d");
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
  overlayCanvas.hidden = false;
  overlayNote.hidden = false;
}

// ----- the shape calculator (LeNet-5 and its variants): change an argument, see every layer -----
const CALC_FIELDS = ["c1_channels", "c3_channels", "c5_channels", "f6_units", "kernel_size", "stride", "padding",
                     "pool_size"];

function setUpCalculator(model) {
  const form = document.getElementById("calc-form");
  form.innerHTML = "";
  document.getElementById("calculator").hidden = true;
  if (!model.name.startsWith("lenet5") || model.name === "lenet5-1998") return;
  for (const name of CALC_FIELDS) {
    const label = document.createElement("label");
    // the argument in words (« remplissage »), then its --arch name in small code (padding)
    const words = MESSAGES[`setting.${name}`], caption = document.createElement("span");
    caption.textContent = words && words !== name ? `${words} ` : "";
    const code = document.createElement("code");
    code.textContent = name;
    caption.appendChild(code);
    label.appendChild(caption);
    const input = document.createElement("input");
    input.type = "number";
    input.name = name;
    input.value = String(model.arguments[name] ?? LeNet.LENET5_DEFAULTS[name]);
    input.addEventListener("input", () => updateCalculator(model));
    label.appendChild(input);
    form.appendChild(label);
  }
  document.getElementById("calculator").hidden = false;
  updateCalculator(model);
}

function calculatorArguments(model) {
  const args = { ...model.arguments };
  for (const input of document.querySelectorAll("#calc-form input")) args[input.name] = Number(input.value);
  return args;
}

function updateCalculator(model) {
  const error = document.getElementById("calc-error"), box = document.getElementById("calc-table");
  let shapes;
  try {
    shapes = LeNet.lenet5Shapes(calculatorArguments(model));
  } catch (problem) {
    if (!problem.key) throw problem;
    const values = Object.fromEntries(Object.entries(problem.values).map(([k, v]) => [k,
      k === "layer" ? layerLabel(v) : typeof v === "number" ? fmt(v, Number.isInteger(v) ? 0 : 2) : v]));
    error.textContent = t("calc.invalid", { model: model.name, reason: t(problem.key, values) });
    error.hidden = false;
    box.innerHTML = "";
    return;
  }
  error.hidden = true;
  const rows = [[t("calc.layer"), t("calc.output"), t("calc.parameters"), t("calc.macs")]];
  for (const l of shapes.layers) rows.push([layerLabel(l.layer), l.output_shape.join("×"), fmtInt(l.parameters), fmtInt(l.macs)]);
  rows.push([t("calc.total"), "", fmtInt(shapes.total_parameters), fmtInt(shapes.total_macs)]);
  box.innerHTML = "";
  const tableEl = table(rows, "calc");
  tableEl.dataset.parameters = String(shapes.total_parameters);
  tableEl.dataset.macs = String(shapes.total_macs);
  box.appendChild(tableEl);
}

// ----- training: the curves, drawn here, and a run still training watched live (GET /api/metrics) -----
const POLL_MS = 1000;
let modelEpoch = null;         // the epoch of the best.pt the drawing panel uses

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

const RUN_COLORS = ["#0969da", "#bc4c00", "#1a7f37", "#8250df", "#cf222e", "#4d2d00", "#1b7c83", "#9a6700"];

function showTraining(m, all = null) {
  if (m.state === "unknown") return;
  const panel = document.getElementById("training-panel");
  if (!m.history || (!m.history.length && m.state !== "training")) return;
  panel.hidden = false;
  const history = m.history;
  if (all && all.length > 1) {  // several runs: each one's validation curves, overlaid
    const series = (key, scale) => all.map((r, k) => ({ label: RUNS[k].name, color: RUN_COLORS[k % RUN_COLORS.length],
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
  if (modelEpoch != null) parts.push(t("train.model_epoch", { epoch: modelEpoch }));
  else if (!EMBEDDED && m.state === "training") parts.push(t("train.waiting"));
  document.getElementById("training-status").textContent = parts.join(" · ");
  document.body.dataset.epochs = String(history.length);
  document.body.dataset.training = m.state;
}

let polling = false;

async function pollMetrics() {
  polling = true;
  try {
    const all = await Promise.all(RUNS.map(async (r) => (await fetch(`/api/metrics?run=${r.run}`)).json()));
    const m = all[RUN];
    // A newer best.pt: the drawing panel moves to it (and redraws the current input with it).
    if (m.model_epoch != null && m.model_epoch !== modelEpoch) await loadModel();
    else if (graph && (!scrub || scrub.epochs.length < m.history.length)) loadScrubber();
    showTraining(m, all);
    // "unknown": the folder is there but training has not written its first progress yet
    if (all.some((r) => r.state === "training" || r.state === "unknown")) { setTimeout(pollMetrics, POLL_MS); return; }
    if (m.state === "finished" && modelEpoch !== m.model_epoch) await loadModel();
  } catch (err) { /* the server went away: the page keeps what it has */ }
  polling = false;
}

// Several runs: a selector picks the one the drawing panel, the matrix and the scrubber use.
async function loadRuns() {
  RUNS = await (await fetch("/api/runs")).json();
  if (RUNS.length < 2) return;
  const select = document.getElementById("run-select");
  for (const r of RUNS) {
    const option = document.createElement("option");
    option.value = String(r.run);
    option.textContent = r.name;
    select.appendChild(option);
  }
  select.addEventListener("change", async () => {
    RUN = Number(select.value);
    modelShown = false; modelEpoch = null; confusionEpoch = null; scrub = null; graph = null;
    document.getElementById("scrubber").hidden = true;
    document.getElementById("cell-images").innerHTML = "";
    document.getElementById("cell-title").textContent = "";
    layersBox.innerHTML = "";  // the other model's layers
    for (const name of Object.keys(layerViews)) delete layerViews[name];
    closeExplain();
    await loadModel();
    if (!polling) pollMetrics();
  });
  document.getElementById("run-choice").hidden = false;
}

// ----- the epoch scrubber: C1's kernels and a probe digit's C1 maps, epoch by epoch (train --keep-filters) -----
let scrub = null;

async function loadScrubber() {
  const response = await fetch(api("/api/filters"));
  if (!response.ok) return;
  const data = await response.json();
  if (!data.epochs.length || (scrub && scrub.epochs.length === data.epochs.length)) return;
  for (const e of data.epochs) LeNet.load({ stages: [{ name: "C1", ops: e.ops }] });
  scrub = data;
  const slider = document.getElementById("scrub-slider");
  slider.max = String(data.epochs.length - 1);
  slider.value = String(data.epochs.length - 1);
  document.getElementById("scrub-note").textContent = t("scrub.note", { index: data.probe.index,
                                                                           label: classNames[data.probe.label] });
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
  const e = scrub.epochs[i], conv = e.ops[0], [cout, , k] = conv.w.shape;
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

// ----- the confusion matrix and its drill-down: confusion.js; the projector: projector.js -----

// ----- the model -----
function showModel(model) {
  classNames = model.class_names;
  buildBars();
  const accuracy = model.test_accuracy == null ? t("page.accuracy_unknown")
    : t("page.test_accuracy", { value: fmtPercent(model.test_accuracy, 2) });
  document.getElementById("model-info").textContent = t("page.model_info", {
    name: MESSAGES[`model.${model.name}`] ?? model.name, parameters: fmtInt(model.parameters), accuracy,
    checkpoint: model.checkpoint })
    + (EMBEDDED ? ` · ${t("page.offline")}` : "");
  document.body.dataset.model = model.name;
  setUpCalculator(model);
}

function showSamples(samples) {
  const box = document.getElementById("samples");
  for (const sample of samples) {
    const cv = document.createElement("canvas");
    cv.width = 28; cv.height = 28;
    cv.className = sample.predicted === sample.label ? "sample right" : "sample wrong";
    cv.title = t("page.sample_title", { index: sample.index, label: classNames[sample.label],
                                         predicted: classNames[sample.predicted] });
    cv.dataset.index = String(sample.index);
    grayImage(cv, sample.image, 0, 255);
    cv.addEventListener("click", () => showSample(sample));
    box.appendChild(cv);
  }
  document.getElementById("samples-box").hidden = false;
}

let modelShown = false;

async function loadModel() {
  try {
    if (EMBEDDED) {
      showModel(EMBEDDED.model);
      graph = LeNet.load(EMBEDDED.graph);
      showSamples(EMBEDDED.samples);
      if (EMBEDDED.training) showTraining(EMBEDDED.training);
      document.getElementById("overlay-choice").hidden = true;  // the overlays are computed by the server
    } else {
      const response = await fetch(api("/api/model"));
      const model = await response.json();
      if (!response.ok) {  // a run still before its first epoch: the curves come first
        document.getElementById("model-info").textContent = model.error || t("train.waiting");
        return;
      }
      const g = await fetch(api("/api/graph"));
      if (g.ok) graph = LeNet.load(await g.json());
      modelEpoch = model.epoch;
      if (!modelShown) { showModel(model); modelShown = true; document.body.dataset.run = String(RUN); }
      loadConfusion();
      loadScrubber();
      Projector.modelChanged();
      if (lastResult && graph) render(runNetwork(lastResult.input.flat()));  // the same input, the newer weights
    }
    document.body.dataset.ready = "true";
  } catch (err) {
    document.getElementById("model-info").textContent = t("page.no_server", { error: err.message });
  }
}

// For tests and the curious: the network of this page, from the console.
window.lenetlab = {
  predict: (pixels) => LeNet.forward(graph, Array.from(pixels)).probabilities,
  forward: (pixels) => LeNet.forward(graph, Array.from(pixels)),
  explain: (stage, unit) => LeNet.explain(trace, stage, unit),
  preprocess: (rgba, w, h) => LeNet.preprocess(rgba, w, h),
  projector: Projector,                // its state, where it draws dot i, and its timings (projectorStats)
  projectorStats: Projector.stats,
};

document.getElementById("clear").addEventListener("click", () => { clearPad(); resetResult(t("page.draw_prompt")); });
document.getElementById("random").addEventListener("click", randomTestImage);
document.getElementById("explain-close").addEventListener("click", closeExplain);
overlaySelect.addEventListener("change", () => explainOverlay(generation));
translateStatic();
clearPad();
buildBars();
if (EMBEDDED) loadModel();
else loadRuns().then(loadModel).then(pollMetrics);
