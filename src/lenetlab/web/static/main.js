// The model the page shows, and the page's start: this file is loaded last. Served: GET /api/runs (several runs: a selector
// picks the one the drawing panel, the matrix and the scrubber use), /api/model and /api/graph, then the run's
// curves are polled while it trains. Exported: everything is in window.LENETLAB_EMBEDDED.
"use strict";
/* global LeNet, LeNetApp, MnistInput, Drawing, Explain, Calculator, Training, Confusion, Projector */
/* exported Main */

const Main = (() => {
  const { EMBEDDED, MESSAGES, state, api, t, fmtInt, fmtPercent, translateStatic } = LeNetApp;

  // The model's line of information, its classes' bars and its shape calculator (`graph`: null when the page
  // cannot evaluate the model).
  function showModel(model, graph) {
    state.classNames = model.class_names;
    Drawing.buildBars();
    const accuracy = model.test_accuracy == null ? t("page.accuracy_unknown")
      : t("page.test_accuracy", { value: fmtPercent(model.test_accuracy, 2) });
    document.getElementById("model-info").textContent = t("page.model_info", {
      name: MESSAGES[`model.${model.name}`] ?? model.name, parameters: fmtInt(model.parameters), accuracy,
      checkpoint: model.checkpoint })
      + (EMBEDDED ? ` · ${t("page.offline")}` : "");
    document.body.dataset.model = model.name;
    Calculator.setUp(model, graph);
  }

  async function loadModel() {
    try {
      if (EMBEDDED) {
        state.graph = LeNet.load(EMBEDDED.graph);
        showModel(EMBEDDED.model, state.graph);
        Drawing.showSamples(EMBEDDED.samples);
        if (EMBEDDED.training) Training.show(EMBEDDED.training);
        document.getElementById("overlay-choice").hidden = true;  // the overlays are computed by the server
      } else {
        const response = await fetch(api("/api/model"));
        const model = await response.json();
        if (!response.ok) {  // a run still before its first epoch: the curves come first
          document.getElementById("model-info").textContent = model.error || t("train.waiting");
          return;
        }
        const g = await fetch(api("/api/graph"));
        if (g.ok) state.graph = LeNet.load(await g.json());
        state.modelEpoch = model.epoch;
        if (!state.modelShown) {
          showModel(model, state.graph);
          state.modelShown = true;
          document.body.dataset.run = String(state.run);
        }
        Confusion.load();
        Training.loadScrubber();
        Projector.modelChanged();
        Drawing.redraw();  // the same input, the newer weights
      }
      document.body.dataset.ready = "true";
    } catch (err) {
      document.getElementById("model-info").textContent = t("page.no_server", { error: err.message });
    }
  }

  // Several runs: a selector picks the one the drawing panel, the matrix and the scrubber use.
  async function loadRuns() {
    state.runs = await (await fetch("/api/runs")).json();
    if (state.runs.length < 2) return;
    const select = document.getElementById("run-select");
    for (const r of state.runs) {
      const option = document.createElement("option");
      option.value = String(r.run);
      option.textContent = r.name;
      select.appendChild(option);
    }
    select.addEventListener("change", async () => {
      Object.assign(state, { run: Number(select.value), modelShown: false, modelEpoch: null, confusionEpoch: null,
                             scrub: null, graph: null });
      document.getElementById("scrubber").hidden = true;
      document.getElementById("cell-images").innerHTML = "";
      document.getElementById("cell-title").textContent = "";
      Drawing.clearLayers();  // the other model's layers
      Explain.close();
      await loadModel();
      if (!state.polling) Training.poll();
    });
    document.getElementById("run-choice").hidden = false;
  }

  // For tests and the curious: the network of this page, from the console.
  window.lenetlab = {
    predict: (pixels) => LeNet.forward(state.graph, Array.from(pixels)).probabilities,
    forward: (pixels) => LeNet.forward(state.graph, Array.from(pixels)),
    explain: (stage, unit) => LeNet.explain(state.trace, stage, unit),
    preprocess: (rgba, w, h) => MnistInput.preprocess(rgba, w, h),
    state,                               // everything the page changes as it runs (app.js)
    projector: Projector,                // its state, where it draws dot i, and its timings (projectorStats)
    projectorStats: Projector.stats,
  };

  function start() {
    translateStatic();
    Drawing.clearPad();
    Drawing.buildBars();
    if (EMBEDDED) loadModel();
    else loadRuns().then(loadModel).then(Training.poll);
  }

  return { loadModel, start };
})();

Main.start();
