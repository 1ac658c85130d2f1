// lab.js: the page that trains (lenetlab lab). Two networks chosen side by side (LeNet-5 with any choice the shape
// calculator accepts, the course's MLP, a fully connected network of LeNet-5's depth), each trained in its own Web
// Worker (lab_worker.js) on the MNIST images embedded in the file, with live curves, C1's kernels, the accuracy
// table and the confusion matrix; the trained weights download as a graph that `lenetlab import` reads.
// window.LENETLAB_LAB (lenetlab/lab.py) holds the images (gzip, base64), the models' default arguments, the recipe
// and the worker's code. Words come from the catalogue through LeNetApp.t.
"use strict";
/* global LeNetApp, Networks, Trainer */
/* exported LabPage */

const LabPage = (() => {
  const LAB = window.LENETLAB_LAB;
  const { t, fmt, fmtInt, fmtPercent, $ } = LeNetApp;
  const NAMES = ["A", "B"], COLOURS = { A: "#0969da", B: "#bf3989" };
  const FIELDS = {
    lenet5: ["c1_channels", "kernel_size", "stride", "padding", "c3_channels", "c3_kernel", "c3_stride", "c3_padding",
             "c5_channels", "f6_units", "pooling", "activation"],
    mlp: ["hidden_1", "hidden_2", "activation"],
    fcnet: ["hidden", "activation"],
  };
  const CHOICES = { pooling: ["avg", "max"], activation: Networks.ACTIVATIONS };
  const MAX_PARAMETERS = 20_000_000;  // 80 MB of weights, and as much again for each of the gradient and momentum
  const OPTIONAL = ["c3_kernel"];  // empty: C3 takes C1's kernel, as in Python (None)

  const state = {
    data: null,                // { train, test }: { images: Uint8Array, labels: Uint8Array }
    running: false, paused: false,
    nets: {},                  // "A"/"B" -> { worker, graph, history: [...], losses: [[step, loss]], parameters, done }
  };

  async function unpack(base64) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  async function loadData() {
    $("lab-data").textContent = t("lab.unpacking", { n: fmtInt(LAB.train.n + LAB.test.n) });
    const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
      [LAB.train.images, LAB.train.labels, LAB.test.images, LAB.test.labels].map(unpack));
    state.data = { train: { images: trainImages, labels: trainLabels }, test: { images: testImages, labels: testLabels } };
    $("lab-data").textContent = t("lab.ready", { train: fmtInt(LAB.train.n), test: fmtInt(LAB.test.n) });
  }

  // ----- the two network panels -----
  function field(name, key, value) {
    const label = document.createElement("label");
    label.textContent = t(`lab.arg.${key}`);
    let input;
    if (CHOICES[key]) {
      input = document.createElement("select");
      for (const choice of CHOICES[key]) input.add(new Option(LeNetApp.MESSAGES[`value.${choice}`] ?? choice, choice));
      input.value = value;
    } else {
      input = document.createElement("input");
      input.type = key === "hidden" ? "text" : "number";
      if (key === "hidden") input.className = "wide";
      else input.min = key.endsWith("padding") ? "0" : "1";
      input.value = Array.isArray(value) ? value.join(",") : value ?? "";
      if (OPTIONAL.includes(key)) { input.placeholder = t("lab.follows"); input.className = "wide"; }
    }
    input.dataset.key = key;
    input.id = label.htmlFor = `lab-${name}-${key}`;
    input.addEventListener("input", () => describe(name));
    return [label, input];
  }

  function panel(name, model) {
    const box = document.createElement("section");
    box.className = "panel lab-net";
    box.id = `lab-net-${name}`;
    box.innerHTML = `<h2></h2><div class="lab-fields"><label></label><select class="lab-model"></select></div>
      <div class="lab-fields lab-args"></div><p class="lab-info muted"></p><p class="lab-status muted" role="status"></p>
      <div class="lab-kernels"></div><table class="numbers lab-confusion"></table>
      <div class="buttons"><button type="button" class="lab-explore" hidden></button>
      <button type="button" class="lab-download" hidden></button></div><p class="lab-hint muted" hidden></p>`;
    box.querySelector("h2").textContent = t("lab.network", { name });
    box.querySelector("label").textContent = t("lab.model");
    const select = box.querySelector(".lab-model");
    for (const m of [...Object.keys(FIELDS), "none"]) select.add(new Option(t(`lab.model.${m}`), m));
    select.value = model;
    select.addEventListener("change", () => showFields(name));
    box.querySelector(".lab-download").textContent = t("lab.download");
    box.querySelector(".lab-explore").textContent = t("lab.explore");
    box.querySelector(".lab-explore").addEventListener("click", () => openExplorer(name));
    box.querySelector(".lab-download").addEventListener("click", () => download(name));
    $("lab-nets").append(box);
    showFields(name);
  }

  const box = (name) => $(`lab-net-${name}`);
  const modelOf = (name) => box(name).querySelector(".lab-model").value;

  function showFields(name) {
    const args = box(name).querySelector(".lab-args"), model = modelOf(name);
    args.replaceChildren();
    if (model !== "none") for (const key of FIELDS[model]) args.append(...field(name, key, LAB.models[model][key]));
    describe(name);
  }

  // The network's arguments as the fields give them, over the model's defaults (from Python).
  function argumentsOf(name) {
    const model = modelOf(name), args = { ...LAB.models[model] };
    for (const input of box(name).querySelectorAll(".lab-args [data-key]")) {
      const key = input.dataset.key, text = input.value.trim();
      if (CHOICES[key]) args[key] = text;
      else if (key === "hidden") args[key] = text.split(",").map((v) => (v.trim() === "" ? NaN : Number(v.trim())));
      else if (text === "" && OPTIONAL.includes(key)) args[key] = null;
      else if (!/^-?\d+$/.test(text)) throw { key: "lab.whole", values: { field: t(`lab.arg.${key}`), value: text || "–" } };
      else args[key] = Number(text);
    }
    return args;
  }

  // The graph of network `name` with fresh weights, or the reason it cannot be built, shown in its panel.
  function describe(name, seed = 0) {
    const info = box(name).querySelector(".lab-info"), model = modelOf(name);
    info.classList.remove("lab-error");
    if (model === "none") { info.textContent = ""; return null; }
    try {
      const graph = Networks.create(model, argumentsOf(name), Trainer.random(seed));
      if (Networks.parameters(graph) > MAX_PARAMETERS) {
        throw { key: "lab.too_big", values: { n: fmtInt(Networks.parameters(graph)), max: fmtInt(MAX_PARAMETERS) } };
      }
      info.textContent = t("lab.parameters", { n: fmtInt(Networks.parameters(graph)) });
      return graph;
    } catch (error) {
      info.classList.add("lab-error");
      info.textContent = error.key ? t(error.key, error.values) : String(error);
      return null;
    }
  }

  // ----- training -----
  function recipe() {
    const asked = Math.round(Number($("lab-epochs").value));
    const epochs = Number.isFinite(asked) && asked >= 1 ? Math.min(asked, 50) : LAB.recipe.epochs;
    $("lab-epochs").value = epochs;  // what trains is what the field shows
    return { ...LAB.recipe, epochs, shift: $("lab-shift").checked ? 2 : 0, engine: $("lab-engine").value,
             software: new URLSearchParams(location.search).get("software") === "1" };
  }

  function startWorker() {
    const url = URL.createObjectURL(new Blob([LAB.worker], { type: "text/javascript" }));
    try { return new Worker(url); } finally { URL.revokeObjectURL(url); }
  }

  function start() {
    const config = recipe(), graphs = {};
    for (const name of NAMES) {
      if (modelOf(name) === "none") continue;
      graphs[name] = describe(name, NAMES.indexOf(name) + 1);
      if (!graphs[name]) return;  // the panel says why
    }
    if (!Object.keys(graphs).length) return;
    if (Object.values(state.nets).some((n) => n.graph) && !window.confirm(t("lab.confirm_restart"))) return;
    reset();
    state.running = true;
    lockFields(true);
    for (const [name, graph] of Object.entries(graphs)) {
      let worker;
      try { worker = startWorker(); } catch (error) {
        $("lab-data").textContent = t("lab.no_worker", { reason: error.message });
        return;
      }
      const net = { worker, graph: null, history: [], losses: [], parameters: Networks.parameters(graph), done: false,
                    model: modelOf(name), config: { ...config, seed: NAMES.indexOf(name) + 1 } };
      state.nets[name] = net;
      worker.onmessage = (event) => onMessage(name, event.data);
      worker.postMessage({ type: "start", graph, config: net.config, data: state.data });
    }
    $("lab-pause").disabled = $("lab-reset").disabled = false;
    $("lab-start").disabled = true;
  }

  function onMessage(name, message) {
    const net = state.nets[name], status = box(name).querySelector(".lab-status");
    if (!net) return;
    if (message.type === "engine") {
      net.engine = { engine: message.engine, adapter: message.adapter, trial: message.trial };
      results();
    } else if (message.type === "step") {
      net.losses.push([message.step, message.loss]);
      status.textContent = t("lab.progress", { epoch: message.epoch, epochs: net.config.epochs, step: fmtInt(message.step),
                                               steps: fmtInt(message.steps), loss: fmt(message.loss, 3) });
      drawCurves();
    } else if (message.type === "epoch") {
      net.graph = message.graph;
      net.predictions = message.test.predictions;  // of the page's test images, in order
      net.history.push({ epoch: message.epoch, train_loss: message.trainLoss, test_loss: message.test.loss,
                         test_accuracy: message.test.accuracy, seconds: message.seconds });
      drawKernels(name, message.kernels);
      drawConfusion(name, message.test.confusion);
      box(name).querySelector(".lab-download").hidden = box(name).querySelector(".lab-explore").hidden = false;
      results();
      drawCurves();
    } else if (message.type === "done") {
      status.textContent = t("lab.finished", { accuracy: fmtPercent(net.history.at(-1).test_accuracy, 2) });
      ended(net);
    } else if (message.type === "error") {
      status.textContent = message.error.key ? t(message.error.key, message.error.values) : message.error;
      status.classList.add("lab-error");
      ended(net);
    }
  }

  // A network finished or failed; once none trains, the page can train again and its fields are free.
  function ended(net) {
    net.done = true;
    if (!Object.values(state.nets).every((n) => n.done)) return;
    state.running = false;
    $("lab-start").disabled = false;
    $("lab-pause").disabled = true;
    lockFields(false);
  }

  function lockFields(locked) {  // the panels say what trains: not editable meanwhile
    for (const input of document.querySelectorAll(".lab-net select, .lab-net input, #lab-recipe input, #lab-recipe select")) input.disabled = locked;
  }

  function pause() {
    state.paused = !state.paused;
    for (const net of Object.values(state.nets)) net.worker.postMessage({ type: state.paused ? "pause" : "resume" });
    $("lab-pause").textContent = t(state.paused ? "lab.resume" : "lab.pause");
  }

  function reset() {
    for (const net of Object.values(state.nets)) net.worker.terminate();
    state.nets = {};
    state.running = state.paused = false;
    lockFields(false);
    $("lab-pause").textContent = t("lab.pause");
    $("lab-start").disabled = false;
    $("lab-pause").disabled = $("lab-reset").disabled = true;
    for (const name of NAMES) {
      for (const selector of [".lab-kernels", ".lab-confusion"]) box(name).querySelector(selector).replaceChildren();
      box(name).querySelector(".lab-status").textContent = t("lab.waiting");
      for (const selector of [".lab-download", ".lab-explore", ".lab-hint"]) box(name).querySelector(selector).hidden = true;
    }
    results();
    drawCurves();
  }

  // ----- what the page draws -----
  function drawKernels(name, kernels) {
    const holder = box(name).querySelector(".lab-kernels");
    holder.replaceChildren();
    if (!kernels) return;
    const [count, channels, k] = kernels.shape, v = kernels.values, limit = Math.max(...v.map(Math.abs)) || 1;
    for (let c = 0; c < count; c++) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = k;
      const rows = [];
      for (let y = 0; y < k; y++) rows.push(Array.from({ length: k }, (_, x) => v[((c * channels) * k + y) * k + x]));
      LeNetApp.grayImage(canvas, rows, -limit, limit);
      holder.append(canvas);
    }
  }

  function drawConfusion(name, confusion) {
    const table = box(name).querySelector(".lab-confusion");
    table.replaceChildren();
    const head = table.insertRow();
    head.insertCell();
    confusion.forEach((_, c) => { head.insertCell().textContent = c; });
    confusion.forEach((row, r) => {
      const tr = table.insertRow();
      tr.insertCell().textContent = r;
      row.forEach((count, c) => {
        const cell = tr.insertCell();
        cell.textContent = count;
        if (r !== c && count) cell.style.background = `rgba(207, 34, 46, ${Math.min(0.6, 0.05 + count / 40)})`;
      });
    });
    table.caption = table.createCaption();
    table.caption.textContent = t("lab.confusion");
  }

  function results() {
    const table = $("lab-results");
    table.replaceChildren();
    const head = table.insertRow();
    for (const key of ["network", "parameters", "epoch", "accuracy", "seconds", "engine"]) head.insertCell().textContent = t(`lab.col.${key}`);
    for (const [name, net] of Object.entries(state.nets)) {
      const last = net.history.at(-1), row = table.insertRow();
      row.insertCell().textContent = `${name} · ${t(`lab.model.${net.model}`)}`;
      row.insertCell().textContent = fmtInt(net.parameters);
      row.insertCell().textContent = last ? last.epoch : "–";
      row.insertCell().textContent = last ? fmtPercent(last.test_accuracy, 2) : "–";
      row.insertCell().textContent = last ? fmt(net.history.reduce((s, h) => s + h.seconds, 0) / net.history.length, 1) : "–";
      const trial = net.engine?.trial ? ` ${t("lab.engine.trial", { cpu: fmt(net.engine.trial.cpu, 1), card: fmt(net.engine.trial.card, 1) })}` : "";
      row.insertCell().textContent = net.engine ? t(`lab.engine.used.${net.engine.engine}`, { adapter: net.engine.adapter }) + trial : "–";
    }
  }

  function drawCurves() {
    const canvas = $("lab-curves"), g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 40;
    g.clearRect(0, 0, W, H);
    const nets = Object.entries(state.nets);
    const total = Math.max(1, ...nets.map(([, n]) => Math.ceil(LAB.train.n / n.config.batchSize) * n.config.epochs));
    const maxLoss = Math.max(0.5, ...nets.flatMap(([, n]) => n.losses.map((p) => p[1])));
    const x = (s) => pad + (W - 2 * pad) * s / total, yLoss = (l) => H - pad - (H - 2 * pad) * l / maxLoss;
    const yAcc = (a) => H - pad - (H - 2 * pad) * Math.max(0, a * 100 - 80) / 20;
    g.strokeStyle = "#d0d7de";
    g.strokeRect(pad, pad, W - 2 * pad, H - 2 * pad);
    g.fillStyle = "#57606a";
    g.font = "12px system-ui, sans-serif";
    g.fillText(t("lab.axis_loss"), 4, pad - 8);
    g.fillText(`${t("lab.axis_accuracy")} 80–100`, W - pad - 150, pad - 8);
    g.fillText(t("lab.axis_steps"), W / 2, H - 8);
    nets.forEach(([name, net], i) => {  // the legend
      g.fillStyle = COLOURS[name];
      g.fillText(`${name} · ${t(`lab.model.${net.model}`)}`, pad + 10 + 260 * i, pad + 16);
    });
    for (const [name, net] of nets) {
      g.strokeStyle = g.fillStyle = COLOURS[name];
      g.beginPath();
      net.losses.forEach(([s, l], i) => (i ? g.lineTo(x(s), yLoss(l)) : g.moveTo(x(s), yLoss(l))));
      g.stroke();
      const perEpoch = Math.ceil(LAB.train.n / net.config.batchSize);
      for (const h of net.history) g.fillRect(x(h.epoch * perEpoch) - 3, yAcc(h.test_accuracy) - 3, 6, 6);
    }
  }

  // The trained network as a graph file for `lenetlab import`, with how it was trained.
  function download(name) {
    const net = state.nets[name];
    if (!net || !net.graph) return;
    const file = `lenetlab-${net.model}-${name}.json`;
    const payload = { ...net.graph, lab: { recipe: net.config, history: net.history, train_images: LAB.train.n,
                                           test_images: LAB.test.n, engine: net.engine } };
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([JSON.stringify(payload)], { type: "application/json" }));
    link.download = file;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    const hint = box(name).querySelector(".lab-hint");
    hint.textContent = t("lab.import_hint", { file, out: `runs/page-${net.model}-${name}` });
    hint.hidden = false;
  }

  // The draw-a-digit page of `lenetlab export` (every layer, any value explained, the curves) for the network as
  // it is now, opened in a new tab: lab.py rendered that page with a stand-in for its model, replaced here by what
  // the exported page embeds (the model, its graph, test digits it gets right and wrong, the history).
  function openExplorer(name) {
    const net = state.nets[name];
    if (!net || !net.graph) return;
    const test = state.data.test, last = net.history.at(-1), samples = [];
    for (const right of [true, false]) {
      let found = 0;
      for (let i = 0; i < test.labels.length && found < 10; i++) {
        if ((net.predictions[i] === test.labels[i]) !== right) continue;
        const image = Array.from({ length: 28 }, (_, y) => Array.from(test.images.subarray(i * 784 + y * 28, i * 784 + y * 28 + 28)));
        samples.push({ index: i, label: test.labels[i], predicted: net.predictions[i], image });
        found++;
      }
    }
    samples.sort((a, b) => a.index - b.index);
    const embedded = {
      model: { name: net.model, arguments: net.graph.arguments, parameters: net.parameters,
               class_names: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], test_accuracy: last.test_accuracy,
               best_epoch: last.epoch, checkpoint: t("lab.checkpoint", { name }) },
      graph: net.graph, samples,
      training: { state: "finished", history: net.history.map((h) => ({
        epoch: h.epoch, train_loss: h.train_loss, valid_loss: h.test_loss, valid_accuracy: h.test_accuracy,
        train_seconds: h.seconds, valid_seconds: 0 })) },
    };
    const json = JSON.stringify(embedded).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026")
      .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");  // safe inside <script>, as lenetlab/page.py
    const html = LAB.explorer.replace(LAB.explorerMark, () => json);
    window.open(URL.createObjectURL(new Blob([html], { type: "text/html" })), "_blank");
  }

  function init() {
    LeNetApp.translateStatic();
    document.title = t("lab.title");
    $("lab-intro").textContent = t("lab.intro", { train: fmtInt(LAB.train.n), test: fmtInt(LAB.test.n) });
    $("lab-recipe-note").textContent = t("lab.recipe_note", { train: fmtInt(LAB.train.n), lr: fmt(LAB.recipe.lr, 2),
                                                              batch: LAB.recipe.batchSize });
    $("lab-epochs").value = LAB.recipe.epochs;
    $("lab-shift").checked = LAB.recipe.shift > 0;
    for (const engine of ["auto", "cpu", "webgpu"]) $("lab-engine").add(new Option(t(`lab.engine.${engine}`), engine));
    const asked = new URLSearchParams(location.search).get("engine");  // lab.html?engine=webgpu: the tests
    $("lab-engine").value = ["cpu", "webgpu"].includes(asked) ? asked : "auto";
    panel("A", "lenet5");
    panel("B", "mlp");
    $("lab-start").addEventListener("click", start);
    $("lab-pause").addEventListener("click", pause);
    $("lab-reset").addEventListener("click", reset);
    reset();
    $("lab-start").disabled = true;  // until the images are unpacked
    loadData().then(() => {
      $("lab-start").disabled = false;
      document.body.dataset.ready = "1";  // the browser tests wait for it
    });
  }

  init();
  return { state, start, pause, reset, describe, download, openExplorer };
})();
