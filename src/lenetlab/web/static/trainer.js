// trainer.js: training in the page. The layers (layers.js) of a lenetlab graph (lenetlab/graph.py); the loss,
// softmax cross-entropy with label smoothing; the optimizer, PyTorch's SGD (momentum, Nesterov, weight decay); the
// schedule, lenetlab/schedule.py's; the augmentation, the ±2-pixel shift; the weights back in the graph's form.
// No framework, no build step; it runs under node too (module.exports below), where tests/js checks every
// gradient and a short run against PyTorch (tests/test_js_trainer.py writes the fixtures).
"use strict";

/* global Layers */
const Trainer = (() => {
  const layers = typeof module !== "undefined" ? require("./layers.js") : Layers;
  const { build, tensor } = layers;

  function forward(net, x) {
    for (const layer of net.layers) x = layer.forward(x);
    return x;
  }

  // Softmax cross-entropy averaged over the batch, with label smoothing as PyTorch's (targets (1 - e) on the
  // label plus e / classes everywhere). Returns the loss, the gradient of the logits and the correct count.
  function crossEntropy(logits, labels, smoothing = 0) {
    const [n, classes] = logits.shape, grad = tensor(logits.shape), Z = logits.data;
    let loss = 0, correct = 0;
    for (let b = 0; b < n; b++) {
      const row = b * classes;
      let m = -Infinity, arg = 0;
      for (let c = 0; c < classes; c++) if (Z[row + c] > m) { m = Z[row + c]; arg = c; }
      let total = 0;
      for (let c = 0; c < classes; c++) total += Math.exp(Z[row + c] - m);
      const logTotal = Math.log(total);
      for (let c = 0; c < classes; c++) {
        const logP = Z[row + c] - m - logTotal;
        const target = (c === labels[b] ? 1 - smoothing : 0) + smoothing / classes;
        loss -= target * logP;
        grad.data[row + c] = (Math.exp(logP) - target) / n;
      }
      if (arg === labels[b]) correct++;
    }
    return { loss: loss / n, grad, correct };
  }

  function zeroGrad(net) {
    for (const p of net.params) p.grad.fill(0);
  }

  // One step's gradients: forward, loss, backward. Returns the loss and the correct count of the batch.
  function gradients(net, x, labels, smoothing = 0) {
    zeroGrad(net);
    const result = crossEntropy(forward(net, x), labels, smoothing);
    let dy = result.grad;
    for (let i = net.layers.length - 1; i >= 0; i--) dy = net.layers[i].backward(dy, i === 0);
    return { loss: result.loss, correct: result.correct };
  }

  // torch.optim.SGD's arithmetic (dampening 0): g = grad + wd * w; buf = momentum * buf + g (buf = g at the
  // first step); with Nesterov the step is g + momentum * buf, else buf; w -= lr * step.
  function sgd(net, { momentum = 0.9, nesterov = true, weightDecay = 0 } = {}) {
    const buffers = net.params.map((p) => new Float64Array(p.value.length));
    let first = true;
    return {
      step(lr) {
        net.params.forEach((p, j) => {
          const W = p.value, G = p.grad, buf = buffers[j];
          for (let i = 0; i < W.length; i++) {
            let g = G[i] + weightDecay * W[i];
            if (momentum > 0) {
              buf[i] = first ? g : momentum * buf[i] + g;
              g = nesterov ? g + momentum * buf[i] : buf[i];
            }
            W[i] -= lr * g;
          }
        });
        first = false;
      },
    };
  }

  // lenetlab/schedule.py's lr_factor: one-cycle warms up linearly over the first 20 % from 0.1x to 1x, then
  // decays linearly to 0; cosine; constant.
  function lrFactor(schedule, step, totalSteps) {
    if (schedule === "constant") return 1;
    const progress = Math.min(step / Math.max(totalSteps, 1), 1);
    if (schedule === "cosine") return 0.5 * (1 + Math.cos(Math.PI * progress));
    if (schedule !== "onecycle") throw { key: "train.unsupported", values: { what: schedule } };
    const warm = 0.2;
    if (progress < warm) return 0.1 + 0.9 * progress / warm;
    return Math.max(0, (1 - progress) / (1 - warm));
  }

  // A seeded generator (mulberry32): the page's shuffles and shifts are reproducible from the seed.
  function random(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function shuffled(n, rand) {
    const order = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  // A batch of uint8 images (n x side x side, from `images` at the indices `order[from..to)`) as floats in
  // [0, 1], each shifted by up to `maxShift` pixels in x and y with zeros coming in (lenetlab/augment.py).
  function batch(images, labels, side, order, from, to, maxShift = 0, rand = null) {
    const n = to - from, pixels = side * side, x = tensor([n, 1, side, side]), y = new Int32Array(n);
    for (let b = 0; b < n; b++) {
      const index = order[from + b], source = index * pixels, target = b * pixels;
      y[b] = labels[index];
      const dy = maxShift ? Math.floor(rand() * (2 * maxShift + 1)) - maxShift : 0;
      const dx = maxShift ? Math.floor(rand() * (2 * maxShift + 1)) - maxShift : 0;
      for (let r = 0; r < side; r++) {
        const sr = r + dy;
        if (sr < 0 || sr >= side) continue;
        for (let c = 0; c < side; c++) {
          const sc = c + dx;
          if (sc >= 0 && sc < side) x.data[target + r * side + c] = images[source + sr * side + sc] / 255;
        }
      }
    }
    return { x, y };
  }

  // Accuracy, mean loss, the confusion matrix (rows: true class, columns: predicted) and every prediction, from
  // the logits of a whole set (n x classes, in order; either engine's).
  function scores(logits, labels, classes = 10) {
    const n = labels.length, predictions = new Uint8Array(n);
    const confusion = Array.from({ length: classes }, () => new Array(classes).fill(0));
    const { loss, correct } = crossEntropy({ shape: [n, classes], data: logits }, labels);
    for (let b = 0; b < n; b++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[b * classes + c] > logits[b * classes + best]) best = c;
      confusion[labels[b]][best]++;
      predictions[b] = best;
    }
    return { loss, accuracy: correct / n, confusion, predictions };
  }

  // The scores of the network over a whole set, in batches (no gradient kept).
  function evaluate(net, images, labels, side, classes = 10, batchSize = 500) {
    const n = labels.length, order = Int32Array.from({ length: n }, (_, i) => i), logits = new Float64Array(n * classes);
    for (let from = 0; from < n; from += batchSize) {
      const { x } = batch(images, labels, side, order, from, Math.min(n, from + batchSize));
      logits.set(forward(net, x).data, from * classes);
    }
    return scores(logits, labels, classes);
  }

  // The network's weights back in the graph's form (base64 float32), so the page can save them and lenetlab
  // read them (`lenetlab import`).
  function exportGraph(net) {
    const encode = (values) => {
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength), chunk = 0x8000;
      let text = "";
      for (let i = 0; i < bytes.length; i += chunk) text += String.fromCharCode(...bytes.subarray(i, i + chunk));
      return btoa(text);
    };
    const trained = net.params[Symbol.iterator]();  // weight then bias, in the order of the graph's operations
    const stages = net.graph.stages.map((stage) => ({
      ...stage,
      ops: stage.ops.map((op) => {
        const copy = { ...op };
        delete copy.w;  // the decoded copies LeNet.load added stay behind
        delete copy.b;
        if (!op.w) return copy;
        const weight = trained.next().value, bias = trained.next().value;
        return { ...copy, weight: { shape: weight.shape, data: encode(Float32Array.from(weight.value)) },
                 bias: { shape: bias.shape, data: encode(Float32Array.from(bias.value)) } };
      }),
    }));
    return { ...net.graph, stages };
  }

  return { build, forward, crossEntropy, gradients, sgd, lrFactor, random, shuffled, batch, scores, evaluate, exportGraph };
})();

if (typeof module !== "undefined") module.exports = Trainer;
