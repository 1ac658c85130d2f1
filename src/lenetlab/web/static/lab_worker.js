// lab_worker.js: one network trained in a Web Worker, so that the page stays responsive (one worker per network:
// two networks side by side train on two cores). The page builds the worker from the text of lenet.js, layers.js,
// networks.js, trainer.js and this file (lab.js: LabPage.startWorker), so the exported file needs nothing else.
//
// In:  { type: "start", graph, config, data }   graph: Networks.create's; data: { train, test } of
//      { images: Uint8Array (n x 28 x 28), labels: Uint8Array }; config: the recipe (lab.js: LabPage.recipe)
//      { type: "pause" } | { type: "resume" } | { type: "stop" }
// Out: { type: "step", step, steps, epoch, loss } about five times a second
//      { type: "epoch", epoch, test: { loss, accuracy, confusion }, trainLoss, seconds, kernels, graph }
//      { type: "done" } | { type: "error", error: { key, values } or a message }
"use strict";

/* global Trainer */
const LabWorker = (() => {
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

  async function train(message) {
    const { graph, config, data } = message, net = Trainer.build(graph), rand = Trainer.random(config.seed);
    const optimizer = Trainer.sgd(net, { momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay });
    const { train: trainSet, test } = data, n = trainSet.labels.length, side = 28;
    const steps = Math.ceil(n / config.batchSize), total = steps * config.epochs;
    let step = 0, reported = performance.now();
    for (let epoch = 1; epoch <= config.epochs && !stopped; epoch++) {
      const order = Trainer.shuffled(n, rand), started = performance.now();
      pausedMs = 0;
      let lossSum = 0, seen = 0;
      for (let s = 0; s < steps && !stopped; s++) {
        const from = s * config.batchSize, to = Math.min(n, from + config.batchSize);
        const { x, y } = Trainer.batch(trainSet.images, trainSet.labels, side, order, from, to, config.shift, rand);
        const { loss } = Trainer.gradients(net, x, y, config.smoothing);
        if (!Number.isFinite(loss)) throw { key: "lab.diverged", values: { step: step + 1 } };
        optimizer.step(config.lr * Trainer.lrFactor(config.schedule, step, total));
        step++;
        lossSum += loss * (to - from);
        seen += to - from;
        if (performance.now() - reported > 200 || step === total) {
          postMessage({ type: "step", step, steps: total, epoch, loss });
          reported = performance.now();
          await yieldToMessages();
          await whilePaused();
        }
      }
      if (stopped) break;
      const seconds = (performance.now() - started - pausedMs) / 1000;
      const result = Trainer.evaluate(net, test.images, test.labels, side);
      postMessage({ type: "epoch", epoch, test: result, trainLoss: lossSum / seen, seconds, kernels: firstKernels(net),
                    graph: Trainer.exportGraph(net) });
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
