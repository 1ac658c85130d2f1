// trainer.js: training in the page. A lenetlab graph (lenetlab/graph.py) becomes layers that run forward and
// backward over a batch in Float32Array; the loss is softmax cross-entropy with label smoothing, the optimizer
// PyTorch's SGD (momentum, Nesterov, weight decay), the schedule lenetlab/schedule.py's, the augmentation the
// ±2-pixel shift. No framework, no build step; it runs under node too (module.exports below), where tests/js
// checks every gradient against PyTorch's (tests/test_js_trainer.py writes the fixtures).
"use strict";

const Trainer = (() => {
  // A batch tensor: { shape: [n, c, h, w] or [n, features], data: Float32Array }, row-major.
  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  const tensor = (shape) => ({ shape, data: new Float32Array(size(shape)) });

  function parameter(name, values, shape) {
    return { name, shape, value: Float32Array.from(values), grad: new Float32Array(values.length) };
  }

  // ----- the operations: forward(x) keeps what backward(dy) needs, backward adds into the parameters' grads -----
  function convLayer(op, name) {
    const [cout, cin, k] = op.w.shape, s = op.stride, p = op.padding;
    const weight = parameter(`${name}.weight`, op.w.values, op.w.shape);
    const bias = parameter(`${name}.bias`, op.b.values, op.b.shape);
    let x = null;
    return {
      op: "conv", params: [weight, bias],
      forward(input) {
        x = input;
        const [n, , h, w] = input.shape;
        const oh = Math.floor((h + 2 * p - k) / s) + 1, ow = Math.floor((w + 2 * p - k) / s) + 1;
        const out = tensor([n, cout, oh, ow]), W = weight.value, B = bias.value, X = input.data, Y = out.data;
        for (let b = 0; b < n; b++) {
          for (let co = 0; co < cout; co++) {
            const yBase = (b * cout + co) * oh * ow;
            for (let oy = 0; oy < oh; oy++) {
              const ky0 = Math.max(0, p - oy * s), ky1 = Math.min(k, h + p - oy * s);
              for (let ox = 0; ox < ow; ox++) {
                const kx0 = Math.max(0, p - ox * s), kx1 = Math.min(k, w + p - ox * s);
                let sum = B[co];
                for (let ci = 0; ci < cin; ci++) {
                  const xBase = (b * cin + ci) * h * w, wBase = (co * cin + ci) * k * k;
                  for (let ky = ky0; ky < ky1; ky++) {
                    const xRow = xBase + (oy * s + ky - p) * w + ox * s - p, wRow = wBase + ky * k;
                    for (let kx = kx0; kx < kx1; kx++) sum += W[wRow + kx] * X[xRow + kx];
                  }
                }
                Y[yBase + oy * ow + ox] = sum;
              }
            }
          }
        }
        return out;
      },
      backward(dy) {
        const [n, , h, w] = x.shape, [, , oh, ow] = dy.shape;
        const dx = tensor(x.shape), W = weight.value, dW = weight.grad, dB = bias.grad;
        const X = x.data, DX = dx.data, DY = dy.data;
        for (let b = 0; b < n; b++) {
          for (let co = 0; co < cout; co++) {
            const yBase = (b * cout + co) * oh * ow;
            for (let oy = 0; oy < oh; oy++) {
              const ky0 = Math.max(0, p - oy * s), ky1 = Math.min(k, h + p - oy * s);
              for (let ox = 0; ox < ow; ox++) {
                const g = DY[yBase + oy * ow + ox];
                if (g === 0) continue;  // ReLU and max pooling leave many
                dB[co] += g;
                const kx0 = Math.max(0, p - ox * s), kx1 = Math.min(k, w + p - ox * s);
                for (let ci = 0; ci < cin; ci++) {
                  const xBase = (b * cin + ci) * h * w, wBase = (co * cin + ci) * k * k;
                  for (let ky = ky0; ky < ky1; ky++) {
                    const xRow = xBase + (oy * s + ky - p) * w + ox * s - p, wRow = wBase + ky * k;
                    for (let kx = kx0; kx < kx1; kx++) {
                      dW[wRow + kx] += g * X[xRow + kx];
                      DX[xRow + kx] += g * W[wRow + kx];
                    }
                  }
                }
              }
            }
          }
        }
        return dx;
      },
    };
  }

  function linearLayer(op, name) {
    const [nout, nin] = op.w.shape;
    const weight = parameter(`${name}.weight`, op.w.values, op.w.shape);
    const bias = parameter(`${name}.bias`, op.b.values, op.b.shape);
    let x = null;
    return {
      op: "linear", params: [weight, bias],
      forward(input) {
        x = input;
        const n = input.shape[0], out = tensor([n, nout]), W = weight.value, B = bias.value, X = input.data;
        for (let b = 0; b < n; b++) {
          for (let o = 0; o < nout; o++) {
            let sum = B[o];
            const row = o * nin, xRow = b * nin;
            for (let i = 0; i < nin; i++) sum += W[row + i] * X[xRow + i];
            out.data[b * nout + o] = sum;
          }
        }
        return out;
      },
      backward(dy) {
        const n = x.shape[0], dx = tensor(x.shape), W = weight.value, dW = weight.grad, dB = bias.grad;
        const X = x.data, DX = dx.data, DY = dy.data;
        for (let b = 0; b < n; b++) {
          const xRow = b * nin;
          for (let o = 0; o < nout; o++) {
            const g = DY[b * nout + o];
            if (g === 0) continue;
            dB[o] += g;
            const row = o * nin;
            for (let i = 0; i < nin; i++) {
              dW[row + i] += g * X[xRow + i];
              DX[xRow + i] += g * W[row + i];
            }
          }
        }
        return dx;
      },
    };
  }

  function poolLayer(op) {
    const k = op.size, s = op.stride, max = op.kind === "max";
    let shape = null, winners = null;
    return {
      op: "pool", params: [],
      forward(input) {
        shape = input.shape;
        const [n, c, h, w] = input.shape, oh = Math.floor((h - k) / s) + 1, ow = Math.floor((w - k) / s) + 1;
        const out = tensor([n, c, oh, ow]), X = input.data, Y = out.data;
        if (max) winners = new Int32Array(Y.length);
        for (let plane = 0; plane < n * c; plane++) {
          for (let oy = 0; oy < oh; oy++) {
            for (let ox = 0; ox < ow; ox++) {
              const o = (plane * oh + oy) * ow + ox;
              let acc = max ? -Infinity : 0, best = -1;
              for (let ky = 0; ky < k; ky++) {
                const row = (plane * h + oy * s + ky) * w + ox * s;
                for (let kx = 0; kx < k; kx++) {
                  const v = X[row + kx];
                  if (!max) acc += v;
                  else if (v > acc) { acc = v; best = row + kx; }  // the first of equal maxima, as PyTorch
                }
              }
              Y[o] = max ? acc : acc / (k * k);
              if (max) winners[o] = best;
            }
          }
        }
        return out;
      },
      backward(dy) {
        const [, , h, w] = shape, [n, c, oh, ow] = dy.shape, dx = tensor(shape), DX = dx.data, DY = dy.data;
        const share = 1 / (k * k);
        for (let plane = 0; plane < n * c; plane++) {
          for (let oy = 0; oy < oh; oy++) {
            for (let ox = 0; ox < ow; ox++) {
              const o = (plane * oh + oy) * ow + ox;
              if (max) { DX[winners[o]] += DY[o]; continue; }
              const g = DY[o] * share;
              for (let ky = 0; ky < k; ky++) {
                const row = (plane * h + oy * s + ky) * w + ox * s;
                for (let kx = 0; kx < k; kx++) DX[row + kx] += g;
              }
            }
          }
        }
        return dx;
      },
    };
  }

  // Each activation as (value, derivative from its input x and output y); the constants come with the operation.
  const ACTIVATIONS = {
    tanh: () => [Math.tanh, (x, y) => 1 - y * y],
    relu: () => [(v) => (v > 0 ? v : 0), (x) => (x > 0 ? 1 : 0)],
    sigmoid: () => [(v) => 1 / (1 + Math.exp(-v)), (x, y) => y * (1 - y)],
    elu: (op) => [(v) => (v > 0 ? v : op.alpha * (Math.exp(v) - 1)), (x, y) => (x > 0 ? 1 : y + op.alpha)],
    leaky_relu: (op) => [(v) => (v > 0 ? v : op.slope * v), (x) => (x > 0 ? 1 : op.slope)],
    scaled_tanh: (op) => [(v) => op.A * Math.tanh(op.S * v), (x, y) => op.S * (op.A - (y * y) / op.A)],
  };

  function activationLayer(op) {
    if (!(op.fn in ACTIVATIONS)) throw { key: "train.unsupported", values: { what: op.fn } };
    const [f, derivative] = ACTIVATIONS[op.fn](op);
    let x = null, y = null;
    return {
      op: "act", params: [],
      forward(input) {
        x = input;
        y = { shape: input.shape, data: input.data.map(f) };
        return y;
      },
      backward(dy) {
        const dx = tensor(x.shape);
        for (let i = 0; i < dx.data.length; i++) dx.data[i] = dy.data[i] * derivative(x.data[i], y.data[i]);
        return dx;
      },
    };
  }

  function flattenLayer() {
    let shape = null;
    return {
      op: "flatten", params: [],
      forward(input) { shape = input.shape; return { shape: [shape[0], size(shape.slice(1))], data: input.data }; },
      backward(dy) { return { shape, data: dy.data }; },
    };
  }

  // A graph's operations as layers, its weights copied (the graph is left as it was). Operations a browser
  // cannot train (the 1998 RBF output and its MAP loss, batch norm folded into a convolution) are refused.
  function build(graph) {
    const layers = [];
    for (const stage of graph.stages) {
      stage.ops.forEach((op, i) => {
        const name = stage.ops.filter((o) => o.weight).length > 1 ? `${stage.name}.${i}` : stage.name;
        if (op.batch_norm_folded) throw { key: "train.unsupported", values: { what: "batch_norm" } };
        if (op.weight && !op.bias) throw { key: "train.unsupported", values: { what: `${op.op} without bias` } };
        if (op.op === "conv") layers.push(convLayer(op, name));
        else if (op.op === "linear") layers.push(linearLayer(op, name));
        else if (op.op === "pool") layers.push(poolLayer(op));
        else if (op.op === "act") layers.push(activationLayer(op));
        else if (op.op === "flatten") layers.push(flattenLayer());
        else throw { key: "train.unsupported", values: { what: op.op } };
      });
    }
    return { graph, layers, params: layers.flatMap((l) => l.params), input: graph.input };
  }

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
    for (let i = net.layers.length - 1; i >= 0; i--) dy = net.layers[i].backward(dy);
    return { loss: result.loss, correct: result.correct };
  }

  // torch.optim.SGD's arithmetic (dampening 0): g = grad + wd * w; buf = momentum * buf + g (buf = g at the
  // first step); with Nesterov the step is g + momentum * buf, else buf; w -= lr * step.
  function sgd(net, { momentum = 0.9, nesterov = true, weightDecay = 0 } = {}) {
    const buffers = net.params.map((p) => new Float32Array(p.value.length));
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

  // Accuracy and mean loss over a whole set, in batches (no gradient kept).
  function evaluate(net, images, labels, side, batchSize = 500) {
    const n = labels.length, order = Int32Array.from({ length: n }, (_, i) => i);
    let loss = 0, correct = 0;
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(n, from + batchSize), { x, y } = batch(images, labels, side, order, from, to);
      const result = crossEntropy(forward(net, x), y);
      loss += result.loss * (to - from);
      correct += result.correct;
    }
    return { loss: loss / n, accuracy: correct / n };
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
        if (!op.weight) return copy;
        const weight = trained.next().value, bias = trained.next().value;
        return { ...copy, weight: { shape: weight.shape, data: encode(weight.value) },
                 bias: { shape: bias.shape, data: encode(bias.value) } };
      }),
    }));
    return { ...net.graph, stages };
  }

  return { build, forward, crossEntropy, gradients, sgd, lrFactor, random, shuffled, batch, evaluate, exportGraph,
           tensor };
})();

if (typeof module !== "undefined") module.exports = Trainer;
