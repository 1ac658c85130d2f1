// trainer.js under node, against PyTorch: the loss and every gradient of a batch for LeNet-5, the MLP and a
// variant with stride, padding, ReLU and max pooling; then a short run with the default recipe's optimizer and
// schedule, step by step. tests/test_js_trainer.py writes the fixtures (LENETLAB_TRAINER_FIXTURES) and reads the
// largest differences measured (LENETLAB_JS_REPORT). Without fixtures every test here is skipped.
"use strict";

const { describe, test, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const STATIC = path.join(__dirname, "..", "..", "src", "lenetlab", "web", "static");
const LeNet = require(path.join(STATIC, "lenet.js"));
const Trainer = require(path.join(STATIC, "trainer.js"));
const Layers = require(path.join(STATIC, "layers.js"));

const FIXTURES = process.env.LENETLAB_TRAINER_FIXTURES;
const skip = FIXTURES ? false : "no fixtures: run `python -m pytest tests/test_js_trainer.py`, which writes them";
const fixtures = FIXTURES ? JSON.parse(fs.readFileSync(FIXTURES, "utf8"))
  : { gradients: [{ label: "(none)" }], run: null, smoothing: 0, gradient_rtol: 0 };

const measured = { gradients: {}, run: {} };
after(() => {
  if (process.env.LENETLAB_JS_REPORT) fs.writeFileSync(process.env.LENETLAB_JS_REPORT, JSON.stringify(measured));
});

// The largest |got - expected| over a tensor, relative to its largest |expected| (a gradient's scale).
function relativeError(got, expected) {
  assert.equal(got.length, expected.length);
  let scale = 0, diff = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    diff = Math.max(diff, Math.abs(got[i] - expected[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

function batchOf(images, n) {
  return { shape: [n, 1, 28, 28], data: Float32Array.from(images) };
}

// Every check below runs with the products in WebAssembly SIMD (node 20's V8 has it, as Chromium's) and in JS.
const ENGINES = [["WebAssembly SIMD", true], ["JS", false]];

describe("the matrix product", () => {
  test("WebAssembly SIMD runs here, and its bytes are scripts/build_wasm.js's", async () => {
    assert.ok(Layers.simd(), "this engine has WebAssembly SIMD: the page's products should run there");
    let build;
    try {
      build = require(path.join(__dirname, "..", "..", "scripts", "build_wasm.js"));
    } catch {
      return;  // wabt (package.json's devDependencies) not installed: `npm install` first; CI does
    }
    const text = fs.readFileSync(path.join(STATIC, "layers.js"), "utf8");
    assert.ok(text.includes(`const WASM_PRODUCT = "${await build.bytes()}";`), "run `node scripts/build_wasm.js`");
  });

  test("WebAssembly SIMD and JS give the same numbers, for any shape, adding or not", () => {
    let seed = 1;
    const random = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 - 0.5; };
    for (const [m, n, k] of [[1, 1, 1], [2, 4, 1], [3, 5, 3], [7, 9, 25], [6, 3137, 25], [16, 400, 150], [150, 64, 16]]) {
      for (const add of [false, true]) {
        const A = Float64Array.from({ length: m * k }, random), B = Float64Array.from({ length: n * k }, random);
        const C = Float64Array.from({ length: m * n }, random), js = C.slice();
        Layers.productNT(A, B, C, m, n, k, add);
        Layers.productJS(A, B, js, m, n, k, add);
        assert.ok(relativeError(C, js) < 1e-13, `${m} x ${n} x ${k}${add ? ", adding" : ""}`);
      }
    }
  });
});

describe("gradients against PyTorch", { skip }, () => {
  for (const c of fixtures.gradients) for (const [engine, simd] of ENGINES) {
    test(`${c.label} (${engine})`, () => {
      Layers.simd(simd);
      const net = Trainer.build(LeNet.load(c.graph));
      const labels = Int32Array.from(c.labels);
      const { loss } = Trainer.gradients(net, batchOf(c.images, labels.length), labels, fixtures.smoothing);
      assert.ok(Math.abs(loss - c.loss) <= 1e-6 * Math.abs(c.loss), `loss ${loss}, PyTorch ${c.loss}`);
      const expected = c.grads.flat();
      assert.equal(net.params.length, expected.length, "one gradient per PyTorch parameter");
      let worst = 0;
      net.params.forEach((p, i) => {
        const err = relativeError(p.grad, expected[i]);
        assert.ok(err <= fixtures.gradient_rtol, `${p.name}: relative error ${err}`);
        worst = Math.max(worst, err);
      });
      measured.gradients[c.label] = Math.max(measured.gradients[c.label] || 0, worst);
      Layers.simd(true);
    });
  }
});

describe("a short run against PyTorch's", { skip: skip || !fixtures.run }, () => {
  test("the schedule's factors are lenetlab/schedule.py's", () => {
    const r = fixtures.run, steps = r.factors.length - 1;
    r.factors.forEach((f, s) => assert.ok(Math.abs(Trainer.lrFactor(r.schedule, s, steps) - f) < 1e-12));
  });

  for (const [engine, simd] of ENGINES) test(`every step's loss and the final weights (${engine})`, () => {
    Layers.simd(simd);
    const r = fixtures.run, net = Trainer.build(LeNet.load(r.graph));
    const optimizer = Trainer.sgd(net, { momentum: r.momentum, nesterov: true, weightDecay: r.weight_decay });
    const images = Uint8Array.from(r.images, (v) => Math.round(v * 255)), labels = Int32Array.from(r.labels);
    const order = Int32Array.from({ length: labels.length }, (_, i) => i), steps = r.losses.length;
    let lossError = 0;
    for (let s = 0; s < steps; s++) {
      const { x, y } = Trainer.batch(images, labels, 28, order, s * r.batch, (s + 1) * r.batch);
      const { loss } = Trainer.gradients(net, x, y, fixtures.smoothing);
      optimizer.step(r.lr * Trainer.lrFactor(r.schedule, s, steps));
      lossError = Math.max(lossError, Math.abs(loss - r.losses[s]));
    }
    const expected = r.final.flat();
    let weightError = 0;
    net.params.forEach((p, i) => { weightError = Math.max(weightError, relativeError(p.value, expected[i])); });
    measured.run = { steps, loss: Math.max(lossError, measured.run.loss || 0), weights: Math.max(weightError, measured.run.weights || 0) };
    Layers.simd(true);
    assert.ok(lossError < 1e-4, `a step's loss differs by ${lossError}`);
    assert.ok(weightError < 1e-4, `the final weights differ by ${weightError} (relative)`);
  });
});
