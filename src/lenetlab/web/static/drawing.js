// The drawing panel: the pad (mouse, pen or finger), from a drawing to a prediction, and the answer with every
// layer of the network. Served: a drawing goes as a PNG to POST /api/predict, at most one request in flight and
// one every THROTTLE_MS while the pen moves. Exported: lenet.js preprocesses and predicts in the page itself.
"use strict";
/* global LeNet, LeNetApp, MnistInput, Explain */
/* exported Drawing */

const Drawing = (() => {
  const { EMBEDDED, MAP_CSS_PX, state, api, t, fmtInt, fmtPercent, layerLabel, el, grayImage } = LeNetApp;
  const THROTTLE_MS = 120;
  const PEN_WIDTH = 18;        // in canvas pixels of the 280x280 pad: about MNIST's stroke once shrunk to 20x20
  const pad = el.pad, ctx = pad.getContext("2d");

  function clearPad() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    state.hasInk = false;
  }

  function resetResult(message) {
    state.generation += 1;
    state.dirty = false;
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
    el.predLabel.textContent = "–";
    el.predProb.textContent = "";
    el.trueLabel.hidden = true;
    delete el.trueLabel.dataset.label;
    delete document.body.dataset.predicted;
    el.input.getContext("2d").clearRect(0, 0, 28, 28);
    state.lastResult = null;
    state.trace = null;
    Explain.hideOverlay();
    Explain.close();
    el.status.textContent = message;
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
    ctx.moveTo(state.last[0], state.last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    state.last = p;
    state.hasInk = true;
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    if (el.trueLabel.dataset.label !== undefined) { el.trueLabel.hidden = true; delete el.trueLabel.dataset.label; }
    state.drawing = true;
    state.last = point(event);
    // A tap leaves a dot: canvas drops zero-length strokes, so fill a circle instead.
    ctx.fillStyle = "#000";
    ctx.beginPath();
    ctx.arc(state.last[0], state.last[1], PEN_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
    state.hasInk = true;
    schedulePredict();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!state.drawing) return;
    event.preventDefault();
    strokeTo(point(event));
    schedulePredict();
  });
  function endStroke() {
    if (!state.drawing) return;
    state.drawing = false;
    schedulePredict(true);
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  // ----- from a drawing to a prediction -----
  function schedulePredict(now = false) {
    if (!state.hasInk) return;
    if (EMBEDDED) { predictHere(); return; }  // in the page itself: milliseconds, no throttling needed
    if (state.inFlight) { state.dirty = true; return; }
    const wait = now ? 0 : Math.max(0, THROTTLE_MS - (performance.now() - state.lastSent));
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => { state.timer = null; sendDrawing(); }, wait);
  }

  function predictHere() {
    const pixels = MnistInput.preprocess(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
    if (pixels === null) { el.status.textContent = t("page.no_digit"); return; }
    render(runNetwork(pixels));
  }

  function sendDrawing() {
    const mine = state.generation;
    state.inFlight = true;
    state.lastSent = performance.now();
    pad.toBlob((blob) => {
      const form = new FormData();
      form.append("image", blob, "digit.png");
      predictOnServer({ method: "POST", body: form }, mine);
    }, "image/png");
  }

  async function predictOnServer(init, mine) {
    state.inFlight = true;
    try {
      const response = await fetch(api("/api/predict"), init);
      const body = await response.json();
      if (mine !== state.generation) return;
      if (!response.ok) { el.status.textContent = body.error || t("page.error", { status: response.status }); return; }
      // The server's preprocessing is the reference; the layers and explanations come from the same input here.
      render(state.graph ? runNetwork(body.input.flat()) : body);
    } catch (err) {
      if (mine === state.generation) el.status.textContent = t("page.no_server", { error: err.message });
    } finally {
      state.inFlight = false;
      if (state.dirty) { state.dirty = false; schedulePredict(); }
    }
  }

  // lenet.js's forward pass, shaped like the server's answer to /api/predict.
  function runNetwork(pixels) {
    const trace = LeNet.forward(state.graph, pixels);
    state.trace = trace;
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
    return { label: trace.label, class_name: state.classNames[trace.label], probabilities: trace.probabilities, input,
             activations };
  }

  async function randomTestImage() {
    clearPad();
    resetResult(t("page.loading_random"));
    if (EMBEDDED) { showSample(EMBEDDED.samples[Math.floor(Math.random() * EMBEDDED.samples.length)]); return; }
    const mine = state.generation;
    try {
      const response = await fetch(api("/api/random"));
      const sample = await response.json();
      if (!response.ok) { el.status.textContent = sample.error || t("page.error", { status: response.status }); return; }
      if (mine !== state.generation) return;
      showTrueLabel(sample.index, sample.label);
      showDigitOnPad(sample.image);
      // The test digit is already MNIST's 28x28: it goes to the network as it is, no preprocessing.
      await predictOnServer({ method: "POST", headers: { "Content-Type": "application/json" },
                             body: JSON.stringify({ array: sample.image }) }, mine);
    } catch (err) {
      el.status.textContent = t("page.no_server", { error: err.message });
    }
  }

  function showTrueLabel(index, label) {
    el.trueLabel.hidden = false;
    el.trueLabel.dataset.label = String(label);
    el.trueLabel.dataset.index = String(index);
    el.trueLabel.textContent = t("page.true_label", { index, name: state.classNames[label] });
  }

  // A test digit ({ index, label, image: 28x28 grey levels }) on the pad, through the network.
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
    state.hasInk = true;
  }

  // The exported page's test digits to click: green the ones the model gets right, red the others.
  function showSamples(samples) {
    const box = document.getElementById("samples");
    for (const sample of samples) {
      const cv = document.createElement("canvas");
      cv.width = 28; cv.height = 28;
      cv.className = sample.predicted === sample.label ? "sample right" : "sample wrong";
      cv.title = t("page.sample_title", { index: sample.index, label: state.classNames[sample.label],
                                           predicted: state.classNames[sample.predicted] });
      cv.dataset.index = String(sample.index);
      grayImage(cv, sample.image, 0, 255);
      cv.addEventListener("click", () => showSample(sample));
      box.appendChild(cv);
    }
    document.getElementById("samples-box").hidden = false;
  }

  // ----- showing the answer -----
  function buildBars() {
    el.bars.innerHTML = "";
    state.classNames.forEach((name, k) => {
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
      for (const cell of [label, track, value]) { cell.dataset.k = k; el.bars.appendChild(cell); }
    });
  }

  // A unit's place in a canvas that shows `shape` (maps: [c, h, w], a strip: [n]), from a click on it.
  function clickedUnit(cv, event, shape, channel) {
    const r = cv.getBoundingClientRect();
    if (shape.length === 1) return [Math.min(shape[0] - 1, Math.floor((event.clientX - r.left) * shape[0] / r.width))];
    const [, h, w] = shape;
    return [channel, Math.min(h - 1, Math.floor((event.clientY - r.top) * h / r.height)),
            Math.min(w - 1, Math.floor((event.clientX - r.left) * w / r.width))];
  }

  function layerView(name, act) {
    const views = state.layerViews;
    const key = `${name}:${act.kind}:${act.shape.join("x")}`;
    if (views[name] && views[name].key === key) return views[name];
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
        cv.addEventListener("click", (event) => Explain.open(name, clickedUnit(cv, event, act.shape, i)));
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
      cv.addEventListener("click", (event) => Explain.open(name, clickedUnit(cv, event, act.shape)));
      box.appendChild(cv);
      canvases.push(cv);
    }
    if (views[name]) views[name].box.replaceWith(box); else el.layers.appendChild(box);
    views[name] = { key, box, canvases };
    return views[name];
  }

  // Another model's layers come: the views of this one go.
  function clearLayers() {
    el.layers.innerHTML = "";
    for (const name of Object.keys(state.layerViews)) delete state.layerViews[name];
  }

  function render(result) {
    grayImage(el.input, result.input, 0, 1);
    const p = result.probabilities;
    el.predLabel.textContent = result.class_name;
    el.predProb.textContent = t("page.sure", { p: fmtPercent(p[result.label]) });
    document.body.dataset.predicted = String(result.label);
    if (el.bars.children.length !== 3 * p.length) buildBars();
    const cells = el.bars.children;
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
    el.status.textContent = el.trueLabel.dataset.label !== undefined
      ? (String(result.label) === el.trueLabel.dataset.label ? t("page.right") : t("page.wrong"))
      : t("page.keep_drawing");
    state.lastResult = result;
    if (state.explained && state.trace) Explain.open(...state.explained);
    Explain.overlay(state.generation);
  }

  // The latest input again, through the model now loaded (a newer best.pt, another run).
  function redraw() {
    if (state.lastResult && state.graph) render(runNetwork(state.lastResult.input.flat()));
  }

  document.getElementById("clear").addEventListener("click", () => { clearPad(); resetResult(t("page.draw_prompt")); });
  document.getElementById("random").addEventListener("click", randomTestImage);

  return { clearPad, buildBars, showSample, showSamples, clearLayers, redraw };
})();
