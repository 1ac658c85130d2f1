// The projector (served page only): the 10,000 test images as dots, placed by PCA or t-SNE of the pixels or of
// a hidden layer (GET /api/projection), coloured by true or predicted class. Hovering shows the digit, drawn from
// one sprite sheet of every test image (GET /api/sprite); a click opens it in the drawing panel.
// The exported page has no server to compute projections (and 10,000 digits would weigh megabytes): there the
// panel stays hidden.
// Fast with 10,000 dots: they are written into one ImageData (no path per dot), hovering looks in a grid of
// cells around the pointer (not through every dot) and draws on a second canvas above, so the dots are redrawn
// only when they move (a ~500 ms tween between two representations) or change colour.
"use strict";
/* global LeNetApp, Drawing */
/* exported Projector */

const Projector = (() => {
  const { EMBEDDED, state, api, t, fmtInt, layerLabel } = LeNetApp;
  const CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                        "#bcbd22", "#17becf"];  // matplotlib's tab10, as the explore figures colour classes
  const MARGIN = 10;           // canvas pixels around the cloud
  const DOT = 3;               // each dot is a DOT x DOT square
  const ALPHA = 0.6;           // dense regions look dense
  const HIT_RADIUS = 6;        // the pointer finds the nearest dot within this many canvas pixels
  const CELL = 8;              // side of a cell of the hit-testing grid
  const TWEEN_MS = 500;
  const POLL_MS = 2000;        // while the server computes a t-SNE

  const $ = (id) => document.getElementById(id);
  const panel = $("projector"), pointsCanvas = $("proj-points"), hoverCanvas = $("proj-hover");
  const repSelect = $("proj-rep"), methodSelect = $("proj-method"), colorSelect = $("proj-color");
  const card = $("proj-card"), thumb = $("proj-thumb"), statusLine = $("proj-status");
  const W = pointsCanvas.width, H = pointsCanvas.height;
  const pointsCtx = pointsCanvas.getContext("2d"), hoverCtx = hoverCanvas.getContext("2d");
  const image = pointsCtx.createImageData(W, H);
  const rgb = CLASS_COLORS.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));

  let run = null;              // the run shown, and what the server offers for it (GET /api/projections)
  let info = null;
  let sprite = null;           // the sprite sheet, once loaded
  let labels = null, predicted = null;
  let xs = null, ys = null;    // every dot's canvas position now
  let grid = null;             // cell -> the dots in it
  let hovered = -1;
  let pointer = null;          // the pointer's last canvas position
  let hoverQueued = false;
  let tween = null;
  let request = 0;             // bumped by each new choice, so that late answers to older ones are dropped
  let seen = false;            // the panel came into view once: from then on, a run's projection loads at once
  const stats = { hoverMs: [], drawMs: [] };  // milliseconds of work: each hover, each drawing of the dots

  // ----- drawing the dots -----
  function drawDots(px, py) {
    const started = performance.now();
    const d = image.data, classes = colorSelect.value === "predicted" ? predicted : labels;
    d.fill(255);
    for (let i = 0; i < px.length; i++) {
      const x0 = Math.min(W - DOT, Math.max(0, Math.round(px[i]) - 1));
      const y0 = Math.min(H - DOT, Math.max(0, Math.round(py[i]) - 1));
      const [r, g, b] = rgb[classes[i]] || rgb[0];
      for (let y = y0; y < y0 + DOT; y++) {
        for (let k = 4 * (y * W + x0), end = k + 4 * DOT; k < end; k += 4) {
          d[k] += (r - d[k]) * ALPHA;
          d[k + 1] += (g - d[k + 1]) * ALPHA;
          d[k + 2] += (b - d[k + 2]) * ALPHA;
        }
      }
    }
    pointsCtx.putImageData(image, 0, 0);
    record(stats.drawMs, performance.now() - started);
  }

  function record(list, ms) {  // the last thousand or so, for window.lenetlab.projectorStats
    list.push(ms);
    if (list.length > 2000) list.splice(0, 1000);
  }

  // Points from the API lie in [-1, 1]; y points up there, down on a canvas.
  function toCanvas(points) {
    const n = points.length, px = new Float32Array(n), py = new Float32Array(n), span = (W - 2 * MARGIN) / 2;
    for (let i = 0; i < n; i++) {
      px[i] = MARGIN + (points[i][0] + 1) * span;
      py[i] = MARGIN + (1 - points[i][1]) * span;
    }
    return [px, py];
  }

  // ----- finding the dot under the pointer: a grid of CELL-sized cells, each listing its dots -----
  function buildGrid() {
    const cols = Math.ceil(W / CELL), rows = Math.ceil(H / CELL), start = new Int32Array(cols * rows + 1);
    const cellOf = (i) => Math.min(rows - 1, Math.max(0, Math.floor(ys[i] / CELL))) * cols
                          + Math.min(cols - 1, Math.max(0, Math.floor(xs[i] / CELL)));
    for (let i = 0; i < xs.length; i++) start[cellOf(i) + 1] += 1;
    for (let c = 0; c < cols * rows; c++) start[c + 1] += start[c];
    const items = new Int32Array(xs.length), fill = start.slice(0, -1);
    for (let i = 0; i < xs.length; i++) items[fill[cellOf(i)]++] = i;
    grid = { cols, rows, start, items };
  }

  function nearest(x, y) {
    let best = -1, bestD = HIT_RADIUS * HIT_RADIUS;
    const c0 = Math.floor((x - HIT_RADIUS) / CELL), c1 = Math.floor((x + HIT_RADIUS) / CELL);
    const r0 = Math.floor((y - HIT_RADIUS) / CELL), r1 = Math.floor((y + HIT_RADIUS) / CELL);
    for (let r = Math.max(0, r0); r <= Math.min(grid.rows - 1, r1); r++) {
      for (let c = Math.max(0, c0); c <= Math.min(grid.cols - 1, c1); c++) {
        const cell = r * grid.cols + c;
        for (let k = grid.start[cell]; k < grid.start[cell + 1]; k++) {
          const i = grid.items[k], dx = xs[i] - x, dy = ys[i] - y, dist = dx * dx + dy * dy;
          if (dist <= bestD) { bestD = dist; best = i; }  // ties: the dot drawn last, the one on top
        }
      }
    }
    return best;
  }

  // ----- hovering: a ring on the upper canvas and the digit's card; the dots are not redrawn -----
  function showHover(i) {
    if (i === hovered) return;
    hoverCtx.clearRect(0, 0, W, H);
    hovered = i;
    if (i < 0) { card.hidden = true; delete card.dataset.index; return; }
    hoverCtx.strokeStyle = "#1f2328";
    hoverCtx.lineWidth = 2;
    hoverCtx.beginPath();
    hoverCtx.arc(xs[i], ys[i], 6, 0, 2 * Math.PI);
    hoverCtx.stroke();
    const g = thumb.getContext("2d"), { columns, tile } = info.sprite;
    g.clearRect(0, 0, tile, tile);
    if (sprite) g.drawImage(sprite, (i % columns) * tile, Math.floor(i / columns) * tile, tile, tile, 0, 0, tile, tile);
    $("proj-card-index").textContent = t("proj.card_index", { index: i });
    $("proj-card-labels").textContent = t("proj.card_labels", { true: state.classNames[labels[i]],
                                                                predicted: state.classNames[predicted[i]] });
    card.classList.toggle("wrong", labels[i] !== predicted[i]);
    Object.assign(card.dataset, { index: String(i), label: String(labels[i]), predicted: String(predicted[i]) });
    // Beside the dot, on the side with room (canvas pixels are CSS pixels here, unless the page is zoomed).
    const sx = pointsCanvas.clientWidth / W, sy = pointsCanvas.clientHeight / H;
    card.hidden = false;
    const left = xs[i] * sx + 14, top = ys[i] * sy - card.offsetHeight / 2;
    card.style.left = `${left + card.offsetWidth > pointsCanvas.clientWidth ? xs[i] * sx - 14 - card.offsetWidth : left}px`;
    card.style.top = `${Math.max(0, Math.min(pointsCanvas.clientHeight - card.offsetHeight, top))}px`;
  }

  function updateHover() {
    hoverQueued = false;
    if (!grid || tween || !pointer) return;
    const started = performance.now();
    showHover(nearest(pointer[0], pointer[1]));
    record(stats.hoverMs, performance.now() - started);
  }

  function canvasPosition(event) {
    const r = hoverCanvas.getBoundingClientRect();
    return [(event.clientX - r.left) * W / r.width, (event.clientY - r.top) * H / r.height];
  }

  hoverCanvas.addEventListener("pointermove", (event) => {
    pointer = canvasPosition(event);
    if (!hoverQueued) { hoverQueued = true; requestAnimationFrame(updateHover); }  // at most once a frame
  });
  hoverCanvas.addEventListener("pointerleave", () => { pointer = null; showHover(-1); });
  hoverCanvas.addEventListener("click", async (event) => {
    pointer = canvasPosition(event);
    updateHover();
    if (hovered >= 0) await openInDrawingPanel(hovered);
  });

  async function openInDrawingPanel(i) {
    const response = await fetch(api(`/api/random?index=${i}`));
    const sample = await response.json();
    if (!response.ok) { statusLine.textContent = sample.error || t("page.error", { status: response.status }); return; }
    Drawing.showSample({ index: i, label: sample.label, predicted: predicted[i], image: sample.image });
    $("draw-panel").scrollIntoView({ block: "nearest" });
  }

  // ----- moving from one representation to another -----
  function moveTo(px, py) {
    if (!xs) { xs = px; ys = py; drawDots(xs, ys); buildGrid(); panel.dataset.state = "ready"; return; }
    if (tween) cancelAnimationFrame(tween.frame);
    const fromX = tween ? tween.x : xs, fromY = tween ? tween.y : ys;
    const x = new Float32Array(px.length), y = new Float32Array(px.length), began = performance.now();
    showHover(-1);
    panel.dataset.state = "moving";
    const step = (now) => {
      const s = Math.min(1, (now - began) / TWEEN_MS), e = s < 0.5 ? 2 * s * s : 1 - 2 * (1 - s) * (1 - s);
      for (let i = 0; i < px.length; i++) {
        x[i] = fromX[i] + (px[i] - fromX[i]) * e;
        y[i] = fromY[i] + (py[i] - fromY[i]) * e;
      }
      drawDots(x, y);
      if (s < 1) { tween.frame = requestAnimationFrame(step); return; }
      tween = null;
      xs = px; ys = py;
      buildGrid();
      panel.dataset.state = "ready";
      updateHover();
    };
    tween = { x, y, frame: requestAnimationFrame(step) };
    x.set(fromX); y.set(fromY);
  }

  async function show() {
    if (!info) return;  // not loaded yet: load() shows the first projection
    const mine = ++request, rep = repSelect.value, method = methodSelect.value;
    statusLine.textContent = t("proj.loading");
    try {
      for (;;) {
        const response = await fetch(api(`/api/projection?rep=${rep}&method=${method}`));
        const body = await response.json();
        if (mine !== request) return;
        if (!response.ok) { statusLine.textContent = body.error || t("page.error", { status: response.status }); return; }
        if (response.status === 202) {  // a t-SNE, computing on the server: ask again in a moment
          panel.dataset.state = "computing";
          statusLine.textContent = t("proj.computing", { n: fmtInt(info.n), s: fmtInt(body.elapsed) });
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          if (mine !== request) return;
          continue;
        }
        labels = body.labels;
        predicted = body.predicted;
        const [px, py] = toCanvas(body.points);
        Object.assign(panel.dataset, { rep, method, count: String(body.n) });
        moveTo(px, py);
        const option = repSelect.selectedOptions[0];
        statusLine.textContent = t("proj.shown", { n: fmtInt(body.n), rep: option ? option.textContent : rep,
                                                   method: methodSelect.selectedOptions[0].textContent });
        return;
      }
    } catch (err) {
      if (mine === request) statusLine.textContent = t("page.no_server", { error: err.message });
    }
  }

  function buildLegend() {
    const box = $("proj-legend");
    box.innerHTML = "";
    state.classNames.forEach((name, k) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = CLASS_COLORS[k % CLASS_COLORS.length];
      item.append(swatch, name);
      box.appendChild(item);
    });
  }

  async function load() {
    const mine = ++request;
    const response = await fetch(api("/api/projections"));
    const body = await response.json();
    if (mine !== request) return;
    if (!response.ok) { statusLine.textContent = body.error || t("page.error", { status: response.status }); return; }
    info = body;
    repSelect.innerHTML = "";
    for (const r of info.representations) {
      const option = document.createElement("option");
      option.value = r.key;
      option.textContent = r.layer ? t("proj.rep_layer", { layer: layerLabel(r.layer), n: fmtInt(r.dimensions) })
        : t("proj.rep_pixels", { n: fmtInt(r.dimensions) });
      repSelect.appendChild(option);
    }
    repSelect.value = info.representations[info.representations.length - 1].key;  // the deepest layer first
    buildLegend();
    sprite = null;
    const sheet = new Image();
    sheet.onload = () => { if (info && sheet.src.endsWith(`run=${state.run}`)) sprite = sheet; };
    sheet.src = api("/api/sprite");
    await show();
  }

  // The run, or its best.pt, changed (main.js's loadModel): a new run starts over, a newer best.pt moves the dots.
  function modelChanged() {
    if (EMBEDDED) return;
    panel.hidden = false;
    if (run !== state.run) {
      run = state.run;
      if (tween) cancelAnimationFrame(tween.frame);
      info = null; xs = ys = grid = null; tween = null; labels = predicted = null;
      showHover(-1);
      pointsCtx.clearRect(0, 0, W, H);
      if (seen) load();
    } else if (info) {
      show();
    }
  }

  // The first projection costs the server seconds of CPU: not before a student scrolls down to it.
  new IntersectionObserver((entries, observer) => {
    if (!entries.some((e) => e.isIntersecting) || run === null) return;
    seen = true;
    observer.disconnect();
    load();
  }, { rootMargin: "200px" }).observe(panel);

  repSelect.addEventListener("change", show);
  methodSelect.addEventListener("change", show);
  colorSelect.addEventListener("change", () => {
    panel.dataset.color = colorSelect.value;
    if (xs && !tween) drawDots(xs, ys);
  });

  return {
    modelChanged,
    stats,
    // Where dot i is drawn, in the page's CSS pixels (for tests and the frame-time script).
    screenPosition: (i) => {
      const r = pointsCanvas.getBoundingClientRect();
      return [r.left + xs[i] * r.width / W, r.top + ys[i] * r.height / H];
    },
    state: () => ({ count: xs ? xs.length : 0, hovered, rep: panel.dataset.rep, method: panel.dataset.method,
                    moving: Boolean(tween), sprite: Boolean(sprite) }),
  };
})();
