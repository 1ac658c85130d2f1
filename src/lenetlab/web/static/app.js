// The draw-a-digit page: plain JavaScript, no framework, no build step, nothing fetched from elsewhere.
// One front end for two pages. Served (lenetlab serve): a drawing goes as a PNG to POST /api/predict and the
// server preprocesses it like `predict`. Exported (lenetlab export): window.LENETLAB_EMBEDDED holds the model and
// a few test digits, and the page preprocesses the drawing itself (lenet.js, Pillow's arithmetic). In both,
// lenet.js runs the network on the 28x28 input to draw every layer and to explain any value a student clicks.
//
// The page is plain scripts, in the order of lenetlab/page.py's SCRIPTS (served as files, inlined by export),
// each one namespace, one `const` of the page:
//   lenet.js       LeNet       the network, its explanations, numbers, the shape rules (also under node: tests/js)
//   mnist.js       MnistInput  MNIST's preprocessing of a drawing, as Pillow computes it (also under node)
//   app.js         LeNetApp    this file: the page's one state object, its words and numbers, its elements
//   drawing.js     Drawing     the pad, from a drawing to a prediction, the answer and every layer
//   explain.js     Explain     where a clicked value comes from; the attribution overlay
//   calculator.js  Calculator  the shape calculator
//   training.js    Training    the curves, a run still training watched live, the epoch scrubber
//   confusion.js   Confusion   the confusion matrix, two runs side by side
//   projector.js   Projector   the test set as dots
//   main.js        Main        which run, loading its model; starts the page
// A file uses LeNet, MnistInput and LeNetApp as it loads; the other namespaces only inside functions, once main.js has
// started the page. Each file names what it uses in its `global` comment (eslint checks it).
"use strict";
/* global LeNet */
/* exported LeNetApp */

const LeNetApp = (() => {
  const EMBEDDED = window.LENETLAB_EMBEDDED || null;
  const LANG = window.LENETLAB_LANG || "en";
  const MESSAGES = window.LENETLAB_MESSAGES || {};
  const MAP_CSS_PX = 56;       // every feature map is shown about this big, whatever its size

  // Everything the page changes as it runs, in one place: no other file keeps a top-level variable.
  const state = {
    run: 0,                    // which run (lenetlab serve RUN1 RUN2 ...): every API call says it
    runs: [],                  // GET /api/runs
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    graph: null,               // the model as lenet.js evaluates it (its `arguments` too)
    modelShown: false,         // the model's line, bars and calculator are set up for this run
    modelEpoch: null,          // the epoch of the best.pt the drawing panel uses
    // the pad and the predictions
    drawing: false,            // a stroke is under way
    hasInk: false,
    last: null,                // the pen's last point
    inFlight: false,           // a request to /api/predict is under way
    dirty: false,              // the drawing changed meanwhile: send it again when the answer comes
    lastSent: 0,
    timer: null,
    generation: 0,             // bumped by "clear" and "random" so late answers to old drawings are dropped
    trace: null,               // every value of the latest forward pass, for the explanations
    lastResult: null,          // the latest prediction, which the attribution overlay explains
    layerViews: {},            // layer name -> { key, box, canvases }
    explained: null,           // [stage, unit] of the open explanation
    // training, the scrubber, the confusion matrix
    polling: false,            // GET /api/metrics is being polled
    scrub: null,               // GET /api/filters: C1 at every kept epoch
    confusionEpoch: null,      // the best.pt the matrix shows, so a poll with the same one redraws nothing
    comparison: 0,             // bumped by each change of the comparison's pickers, so that late answers are dropped
  };

  const api = (path) => `${path}${path.includes("?") ? "&" : "?"}run=${state.run}`;

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

  // ----- the page's elements -----
  const $ = (id) => document.getElementById(id);
  const el = {
    pad: $("pad"), input: $("input"), status: $("status"), trueLabel: $("true-label"), predLabel: $("pred-label"),
    predProb: $("pred-prob"), bars: $("bars"), layers: $("layers"), overlay: $("overlay"),
    overlayCanvas: $("attribution"), overlayNote: $("overlay-note"), explain: $("explain"),
    explainBody: $("explain-body"),
  };

  // ----- small drawing helpers -----
  // rows (h lists of w numbers) as grey levels on a canvas of their size: lo black, hi white.
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

  // A table of numbers and words; the numbers written with 3 decimals in the page's language.
  function table(rows, className = "") {
    const tableEl = document.createElement("table");
    tableEl.className = `numbers ${className}`;
    for (const row of rows) {
      const tr = tableEl.insertRow();
      for (const v of row) tr.insertCell().textContent = typeof v === "number" ? fmt(v, 3) : v;
    }
    return tableEl;
  }

  return { EMBEDDED, LANG, MESSAGES, MAP_CSS_PX, state, api, t, fmt, fmtInt, fmtPercent, layerLabel, belowLabel,
           activationLabel, translateStatic, $, el, grayImage, table };
})();
