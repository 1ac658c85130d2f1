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

describe("gradients against PyTorch", { skip }, () => {
  for (const c of fixtures.gradients) {
    test(c.label, () => {
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
      measured.gradients[c.label] = worst;
    });
  }
});

describe("a short run against PyTorch's", { skip: skip || !fixtures.run }, () => {
  test("the schedule's factors are lenetlab/schedule.py's", () => {
    const r = fixtures.run, steps = r.factors.length - 1;
    r.factors.forEach((f, s) => assert.ok(Math.abs(Trainer.lrFactor(r.schedule, s, steps) - f) < 1e-12));
  });

  test("every step's loss and the final weights", () => {
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
    measured.run = { steps, loss: lossError, weights: weightError };
    assert.ok(lossError < 1e-4, `a step's loss differs by ${lossError}`);
    assert.ok(weightError < 1e-4, `the final weights differ by ${weightError} (relative)`);
  });
});
