// The draw-a-digit page: plain JavaScript, no framework, no build step, nothing fetched from elsewhere.
// Drawing sends the canvas as a PNG to POST /api/predict, at most one request in flight and one every
// THROTTLE_MS while the pen moves, and once more when it lifts; the server preprocesses it like `predict`.
"use strict";

const THROTTLE_MS = 120;
const PEN_WIDTH = 18;          // in canvas pixels of the 280x280 pad: about MNIST's stroke once shrunk to 20x20
const MAP_CSS_PX = 56;         // every feature map is shown about this big, whatever its size

// The page's elements, by id.
const [pad, inputCanvas, statusLine, trueLabel, predLabel, predProb, barsBox, layersBox, overlaySelect, overlayCanvas,
       overlayNote] = ["pad", "input", "status", "true-label", "pred-label", "pred-prob", "bars", "layers", "overlay",
                       "attribution", "overlay-note"].map((id) => document.getElementById(id));
const ctx = pad.getContext("2d");

let classNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
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
  hideOverlay();
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

// ----- talking to the server -----
function schedulePredict(now = false) {
  if (!hasInk) return;
  if (inFlight) { dirty = true; return; }
  const wait = now ? 0 : Math.max(0, THROTTLE_MS - (performance.now() - lastSent));
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => { timer = null; sendDrawing(); }, wait);
}

function sendDrawing() {
  const mine = generation;
  inFlight = true;
  lastSent = performance.now();
  pad.toBlob((blob) => {
    const form = new FormData();
    form.append("image", blob, "digit.png");
    predict({ method: "POST", body: form }, mine);
  }, "image/png");
}

async function predict(init, mine) {
  inFlight = true;
  try {
    const response = await fetch("/api/predict", init);
    const body = await response.json();
    if (mine !== generation) return;
    if (!response.ok) { statusLine.textContent = body.error || `error ${response.status}`; return; }
    render(body);
  } catch (err) {
    if (mine === generation) statusLine.textContent = `cannot reach the server (${err.message}); is lenetlab serve running?`;
  } finally {
    inFlight = false;
    if (dirty) { dirty = false; schedulePredict(); }
  }
}

async function randomTestImage() {
  clearPad();
  resetResult("Loading a random MNIST test image…");
  const mine = generation;
  try {
    const response = await fetch("/api/random");
    const sample = await response.json();
    if (!response.ok) { statusLine.textContent = sample.error || `error ${response.status}`; return; }
    if (mine !== generation) return;
    showDigitOnPad(sample.image);
    trueLabel.hidden = false;
    trueLabel.dataset.label = String(sample.label);
    trueLabel.dataset.index = String(sample.index);
    trueLabel.textContent = `MNIST test image #${sample.index}, true label: ${sample.class_name}`;
    // The test digit is already MNIST's 28x28: it goes to the network as it is, no preprocessing.
    await predict({ method: "POST", headers: { "Content-Type": "application/json" },
                    body: JSON.stringify({ array: sample.image }) }, mine);
  } catch (err) {
    statusLine.textContent = `cannot reach the server (${err.message})`;
  }
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
    track.setAttribute("aria-label", `probability of ${name}`);
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
  const what = act.kind === "maps" ? `${act.shape[0]} maps of ${act.shape[1]}×${act.shape[2]}` : `${act.shape[0]} units`;
  title.innerHTML = `${name} <span>· ${what}${name === "output" ? " (scores before softmax)" : ""}</span>`;
  box.appendChild(title);
  const canvases = [];
  if (act.kind === "maps") {
    const maps = document.createElement("div");
    maps.className = "maps";
    const [c, h, w] = act.shape;
    const scale = Math.max(1, Math.round(MAP_CSS_PX / h));
    for (let i = 0; i < c; i++) {
      const cv = document.createElement("canvas");
      cv.width = w; cv.height = h;
      cv.style.width = `${w * scale}px`; cv.style.height = `${h * scale}px`;
      cv.title = `${name} map ${i + 1}`;
      maps.appendChild(cv);
      canvases.push(cv);
    }
    box.appendChild(maps);
  } else {
    const cv = document.createElement("canvas");
    cv.className = "strip";
    cv.width = act.shape[0]; cv.height = 1;
    cv.title = `${name}: ${act.shape[0]} units`;
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
  predProb.textContent = `${(100 * p[result.label]).toFixed(1)} % sure`;
  document.body.dataset.predicted = String(result.label);
  if (barsBox.children.length !== 3 * p.length) buildBars();
  const cells = barsBox.children;
  for (let k = 0; k < p.length; k++) {
    const top = k === result.label;
    for (let j = 0; j < 3; j++) cells[3 * k + j].classList.toggle("bar-top", top);
    cells[3 * k + 1].firstChild.style.width = `${(100 * p[k]).toFixed(2)}%`;
    cells[3 * k + 1].setAttribute("aria-valuenow", p[k].toFixed(4));
    cells[3 * k + 2].textContent = `${(100 * p[k]).toFixed(1)}%`;
  }
  for (const [name, act] of Object.entries(result.activations)) {
    const view = layerView(name, act);
    if (act.kind === "maps") act.values.forEach((map, i) => grayImage(view.canvases[i], map, act.min, act.max));
    else grayImage(view.canvases[0], [act.values], act.min, act.max);
  }
  statusLine.textContent = trueLabel.dataset.label !== undefined
    ? (String(result.label) === trueLabel.dataset.label ? "Right." : "Wrong: see the true label below.")
    : "Keep drawing, or clear and draw another digit.";
  lastResult = result;
  explain(generation);
}

// ----- the attribution overlay: which pixels made the network say what it said -----
function hideOverlay() {
  overlayCanvas.hidden = true;
  overlayNote.hidden = true;
  delete document.body.dataset.overlay;
}

async function explain(mine) {
  const method = overlaySelect.value;
  if (!method || !lastResult) { hideOverlay(); return; }
  try {
    const response = await fetch(`/api/explain`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ array: lastResult.input, method, target: lastResult.label }) });
    const body = await response.json();
    if (mine !== generation || method !== overlaySelect.value) return;
    if (!response.ok) { statusLine.textContent = body.error || `error ${response.status}`; return; }
    drawOverlay(body.map, body.max_abs);
    document.body.dataset.overlay = method;
  } catch (err) {
    if (mine === generation) statusLine.textContent = `cannot reach the server (${err.message})`;
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

async function loadModel() {
  const info = document.getElementById("model-info");
  try {
    const response = await fetch("/api/model");
    const model = await response.json();
    classNames = model.class_names;
    buildBars();
    const acc = model.test_accuracy == null ? "test accuracy unknown" : `test accuracy ${(100 * model.test_accuracy).toFixed(2)} %`;
    info.textContent = `${model.name} · ${model.parameters.toLocaleString("en")} parameters · ${acc} · ${model.checkpoint}`;
    document.body.dataset.model = model.name;
  } catch (err) {
    info.textContent = `cannot reach the server (${err.message})`;
  }
}

document.getElementById("clear").addEventListener("click", () => { clearPad(); resetResult("Draw a digit in the box."); });
document.getElementById("random").addEventListener("click", randomTestImage);
overlaySelect.addEventListener("change", () => explain(generation));
clearPad();
buildBars();
loadModel();
