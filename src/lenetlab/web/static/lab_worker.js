// lab_worker.js: one network trained in a Web Worker, so that the page stays responsive (one worker per network:
// two networks side by side train on two cores). The page builds the worker from the text of lenet.js, layers.js,
// networks.js, trainer.js, gpu.js and this file (lab.js: LabPage.startWorker), so the exported file needs nothing
// else. Each step runs on the graphics card (gpu.js) when config.engine asks for it ("webgpu") or allows it
// ("auto": a real adapter only, not a software one), else on the CPU (layers.js: WebAssembly SIMD, or JS).
//
// In:  { type: "start", graph, config, data }   graph: Networks.create's; data: { train, test } of
//      { images: Uint8Array (n x 28 x 28), labels: Uint8Array }; config: the recipe (lab.js: LabPage.recipe)
//      { type: "pause" } | { type: "resume" } | { type: "stop" }
// Out: { type: "engine", engine: "webgpu" | "wasm" | "js", adapter, trial: { card, cpu } ms a step or null }   first
//      { type: "step", step, steps, epoch, loss } about five times a second
//      { type: "epoch", epoch, test: { loss, accuracy, confusion }, trainLoss, seconds, kernels, graph }
//      { type: "done" } | { type: "error", error: { key, values } or a message }
"use strict";

/* global Trainer, Layers, GpuEngine */
const LabWorker = (() => {
  const GPU_AHEAD = 8;  // steps queued on the graphics card before the worker waits for them
  const TRIAL_STEPS = 3;  // steps timed on each engine before "auto" chooses
  let paused = false, stopped = false, wake = null, pausedMs = 0;

  const yieldToMessages = () => new Promise((resolve) => setTimeout(resolve, 0));
  async function whilePaused() {  // the time spent here is not training time
    const since = performance.now();
    while (paused && !stopped) await new Promise((resolve) => { wake = resolve; });
    pausedMs += performance.now() - since;
  }

  // C1's kernels (the first convolution), for the page to draw them forming; null for a dense network.
  function firstKernels(net) {
    const conv = net.layers.find((l) => l.op === "conv");
    return conv ? { shape: conv.params[0].shape, values: Float32Array.from(conv.params[0].value) } : null;
  }

  // The engine for this network: { gpu (or null for the CPU), trial }. Asked for by name, the card must be there
  // and take the network. Left to choose ("auto"), the page takes the card only where it is faster: a real
  // adapter (a software one too with config.software, lab.html?software=1: the tests), then a few steps of
  // this network timed on each engine; the CPU when the card is missing, refuses or is slower.
  async function engineFor(net, config, trainSet) {
    if (config.engine === "cpu") return { gpu: null, trial: null };
    let gpu = null;
    try {
      gpu = await GpuEngine.open(net, trainSet.images, {
        batchSize: config.batchSize, momentum: config.momentum, nesterov: config.nesterov,
        weightDecay: config.weightDecay, smoothing: config.smoothing,
        allowFallback: config.engine === "webgpu" || Boolean(config.software) });
    } catch (error) {
      if (config.engine === "webgpu" || error.key !== "lab.gpu_failed") throw error;
      return { gpu: null, trial: null };
    }
    if (!gpu && config.engine === "webgpu") throw { key: "lab.no_webgpu", values: {} };
    if (!gpu || config.engine === "webgpu") return { gpu, trial: null };
    const trial = await timeBoth(gpu, net, config, trainSet);
    if (trial.card < trial.cpu) return { gpu, trial };
    gpu.destroy();
    return { gpu: null, trial };
  }

  // Milliseconds per step (forward and backward, no update: nothing changes) on the card and on the CPU, on the
  // first batch, after one step on the card that compiles its kernels.
  async function timeBoth(gpu, net, config, trainSet) {
    const n = Math.min(config.batchSize, trainSet.labels.length), indices = Int32Array.from({ length: n }, (_, i) => i);
    const labels = Int32Array.from(indices, (i) => trainSet.labels[i]);
    gpu.step({ indices, labels });
    await gpu.totals();
    let started = performance.now();
    for (let s = 0; s < TRIAL_STEPS; s++) gpu.step({ indices, labels });
    await gpu.totals();
    const card = (performance.now() - started) / TRIAL_STEPS;
    const { x, y } = Trainer.batch(trainSet.images, trainSet.labels, 28, indices, 0, n);
    started = performance.now();
    for (let s = 0; s < TRIAL_STEPS; s++) Trainer.gradients(net, x, y, config.smoothing);
    return { card, cpu: (performance.now() - started) / TRIAL_STEPS };
  }

  // The batch's shifts, drawn as Trainer.batch draws them (dy then dx, image after image): the same seed gives
  // the same batches on either engine.
  function shifts(n, maxShift, rand) {
    const dys = new Int32Array(n), dxs = new Int32Array(n);
    for (let b = 0; maxShift && b < n; b++) {
      dys[b] = Math.floor(rand() * (2 * maxShift + 1)) - maxShift;
      dxs[b] = Math.floor(rand() * (2 * maxShift + 1)) - maxShift;
    }
    return { dys, dxs };
  }

  async function train(message) {
    const { graph, config, data } = message, net = Trainer.build(graph), rand = Trainer.random(config.seed);
    const { train: trainSet, test } = data, n = trainSet.labels.length, side = 28;
    const { gpu, trial } = await engineFor(net, config, trainSet);
    postMessage({ type: "engine", engine: gpu ? "webgpu" : Layers.simd() ? "wasm" : "js", adapter: gpu ? gpu.name || "?" : null,
                  trial });
    const optimizer = gpu ? null : Trainer.sgd(net, { momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay });
    const steps = Math.ceil(n / config.batchSize), total = steps * config.epochs;
    let step = 0, reported = performance.now();
    try {
      for (let epoch = 1; epoch <= config.epochs && !stopped; epoch++) {
        const order = Trainer.shuffled(n, rand), started = performance.now();
        pausedMs = 0;
        let lossSum = 0, seen = 0, loss = NaN;
        if (gpu) gpu.resetTotals();
        for (let s = 0; s < steps && !stopped; s++) {
          const from = s * config.batchSize, to = Math.min(n, from + config.batchSize);
          const lr = config.lr * Trainer.lrFactor(config.schedule, step, total);
          if (gpu) {
            const indices = order.subarray(from, to), labels = Int32Array.from(indices, (i) => trainSet.labels[i]);
            gpu.step({ indices, labels, ...shifts(to - from, config.shift, rand), lr });
          } else {
            const { x, y } = Trainer.batch(trainSet.images, trainSet.labels, side, order, from, to, config.shift, rand);
            loss = Trainer.gradients(net, x, y, config.smoothing).loss;
            if (!Number.isFinite(loss)) throw { key: "lab.diverged", values: { step: step + 1 } };
            optimizer.step(lr);
            lossSum += loss * (to - from);
            seen += to - from;
          }
          step++;
          const report = performance.now() - reported > 200 || s === steps - 1;
          // The card's queue is kept short (a read waits for it), so that a pause takes effect at once.
          if (gpu && (report || step % GPU_AHEAD === 0)) {
            const totals = await gpu.totals();
            ({ lossSum, seen } = totals);
            loss = totals.last;
            // within the last few steps: the card's loss is read every GPU_AHEAD steps
            if (!Number.isFinite(loss) || !Number.isFinite(lossSum)) throw { key: "lab.diverged_by", values: { step } };
          }
          if (report) {
            postMessage({ type: "step", step, steps: total, epoch, loss });
            reported = performance.now();
            await yieldToMessages();
            await whilePaused();
          }
        }
        if (stopped) break;
        const seconds = (performance.now() - started - pausedMs) / 1000;
        if (gpu) await gpu.readWeights();  // into `net`, which exports them
        const result = gpu ? Trainer.scores(await gpu.logits(test.images), test.labels)
          : Trainer.evaluate(net, test.images, test.labels, side);
        postMessage({ type: "epoch", epoch, test: result, trainLoss: lossSum / seen, seconds, kernels: firstKernels(net),
                      graph: Trainer.exportGraph(net) });
      }
    } finally {
      if (gpu) gpu.destroy();
    }
    postMessage({ type: stopped ? "stopped" : "done" });
  }

  function onMessage(event) {
    const message = event.data;
    if (message.type === "start") {
      train(message).catch((error) => postMessage({ type: "error", error: error.key ? error : String(error) }));
    } else if (message.type === "pause") {
      paused = true;
    } else if (message.type === "resume" || message.type === "stop") {
      paused = false;
      stopped = message.type === "stop";
      if (wake) { wake(); wake = null; }
    }
  }

  return { onMessage };
})();

if (typeof self !== "undefined" && typeof module === "undefined") self.onmessage = LabWorker.onMessage;
