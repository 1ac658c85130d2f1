// lenet.js under node, against PyTorch and lenetlab.preprocess: the forward pass of each model, the explanation of
// units of every layer, and the preprocessing of drawings and photos. The fixtures come from PyTorch:
// tests/test_js_units.py writes them to a temporary file and runs `node --test tests/js/lenet.test.js` with
// LENETLAB_JS_FIXTURES naming it (and LENETLAB_JS_REPORT a file for the largest differences it measured).
// Without fixtures every test here is skipped: run `python -m pytest tests/test_js_units.py`.
"use strict";

const { describe, test, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const STATIC = path.join(__dirname, "..", "..", "src", "lenetlab", "web", "static");
const LeNet = require(path.join(STATIC, "lenet.js"));
const MnistInput = require(path.join(STATIC, "mnist.js"));

const FIXTURES = process.env.LENETLAB_JS_FIXTURES;
const skip = FIXTURES ? false : "no fixtures: run `python -m pytest tests/test_js_units.py`, which writes them";
const fixtures = FIXTURES ? JSON.parse(fs.readFileSync(FIXTURES, "utf8"))
  : { rtol: 0, atol: 0, models: [{ label: "(none)", cases: [] }], preprocess: { "(none)": null } };
const { rtol, atol } = fixtures;

// The largest differences measured, by model and by preprocessing case (written to LENETLAB_JS_REPORT).
const measured = { forward: {}, explain: {}, preprocess: {} };
after(() => {
  if (process.env.LENETLAB_JS_REPORT) fs.writeFileSync(process.env.LENETLAB_JS_REPORT, JSON.stringify(measured));
});

// numpy's allclose, number by number: |got - expected| <= atol + rtol |expected|. Returns the largest |difference|.
function assertClose(got, expected, what) {
  const g = Array.from(got), e = Array.from(expected);
  assert.equal(g.length, e.length, `${what}: ${g.length} values, expected ${e.length}`);
  let largest = 0;
  for (let i = 0; i < e.length; i++) {
    const diff = Math.abs(g[i] - e[i]);
    assert.ok(diff <= atol + rtol * Math.abs(e[i]), `${what}[${i}]: ${g[i]}, PyTorch ${e[i]} (|difference| ${diff})`);
    largest = Math.max(largest, diff);
  }
  return largest;
}

// A graph as the page gets it: JSON text, parsed (LeNet.load decodes the weights in place).
const loaded = (graph) => LeNet.load(JSON.parse(JSON.stringify(graph)));

describe("the forward pass", { skip }, () => {
  for (const model of fixtures.models) {
    test(model.label, () => {
      const graph = loaded(model.graph);
      let largest = 0;
      model.cases.forEach((c, k) => {
        const trace = LeNet.forward(graph, c.pixels);
        assert.deepEqual(trace.stages.map((s) => s.name), Object.keys(c.stages));
        for (const stage of trace.stages) {
          const expected = c.stages[stage.name];
          assert.deepEqual(stage.output.shape, expected.shape, `input ${k}, ${stage.name}: shape`);
          largest = Math.max(largest, assertClose(stage.output.data, expected.data, `input ${k}, ${stage.name}`));
        }
        largest = Math.max(largest, assertClose(trace.logits, c.logits, `input ${k}, logits`));
        largest = Math.max(largest, assertClose(trace.probabilities, c.probabilities, `input ${k}, probabilities`));
        const best = c.probabilities.indexOf(Math.max(...c.probabilities));
        assert.equal(trace.label, best, `input ${k}: label`);
        assert.deepEqual(trace.input, c.pixels);
      });
      measured.forward[model.label] = largest;
    });
  }

  test("refuses an input that is not 28x28", () => {
    assert.throws(() => LeNet.forward(loaded(fixtures.models[0].graph), new Array(783).fill(0)), /784 pixels/);
  });
});

describe("the explanation of a value", { skip }, () => {
  for (const model of fixtures.models) {
    test(model.label, () => {
      const graph = loaded(model.graph), c = model.cases[0];
      const trace = LeNet.forward(graph, c.pixels);
      let largest = 0;
      for (const x of c.explain) {
        const what = `${x.stage} ${x.unit.join(",")}`, e = LeNet.explain(trace, x.stage, x.unit);
        assert.equal(e.kind, x.kind, `${what}: kind`);
        assert.equal(e.stage, x.stage);
        const index = trace.stages.findIndex((s) => s.name === x.stage);
        assert.equal(e.below, index ? trace.stages[index - 1].name : "input", `${what}: below`);
        largest = Math.max(largest, assertClose([e.value], [x.value], `${what}: value`));
        if (e.kind === "conv") {
          // the window's products add up to the sum; the sum plus the bias is PyTorch's pre-activation
          const [cin, k] = [e.inputs.length, e.window.size];
          assert.equal(e.window.channels, cin);
          assert.deepEqual([e.inputs, e.kernel, e.products].map((t) => t.flat(2).length), Array(3).fill(cin * k * k));
          const [inputs, kernel, products] = [e.inputs, e.kernel, e.products].map((t) => t.flat(2));
          inputs.forEach((v, i) => assert.equal(v * kernel[i], products[i], `${what}: product ${i}`));
          const total = products.reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(total - e.sum) <= 1e-9 * Math.max(1, Math.abs(e.sum)), `${what}: the products' sum`);
          largest = Math.max(largest, assertClose([e.sum + e.bias, e.pre], [x.pre, x.pre], `${what}: pre-activation`));
        } else if (e.kind === "pool") {
          const window = e.window.flat();
          const pooled = e.pooling === "max" ? Math.max(...window) : window.reduce((a, b) => a + b, 0) / window.length;
          assert.ok(Math.abs(pooled - e.value) <= 1e-12, `${what}: the window pools to the value`);
          assert.equal(window.length, e.size * e.size);
        } else if (e.kind === "linear") {
          largest = Math.max(largest, assertClose([e.sum + e.bias, e.pre], [x.pre, x.pre], `${what}: pre-activation`));
          assert.equal(e.top.length, Math.min(10, e.inputs), `${what}: the largest contributions`);
          for (let i = 1; i < e.top.length; i++) assert.ok(Math.abs(e.top[i - 1].product) >= Math.abs(e.top[i].product));
          for (const t of e.top) assert.equal(t.input * t.weight, t.product);
          if (x.probability !== undefined) {
            largest = Math.max(largest, assertClose([e.probability], [x.probability], `${what}: probability`));
          }
        }
      }
      measured.explain[model.label] = largest;
    });
  }

  test("refuses a stage the model does not have", () => {
    const model = fixtures.models[0];
    const trace = LeNet.forward(loaded(model.graph), model.cases[0].pixels);
    assert.throws(() => LeNet.explain(trace, "Z9", [0]), /no stage Z9/);
  });
});

describe("the preprocessing of a drawing (lenetlab.preprocess.mnist_preprocess)", { skip }, () => {
  for (const [name, c] of Object.entries(fixtures.preprocess)) {
    test(name, () => {
      const rgba = new Uint8ClampedArray(Buffer.from(c.rgba, "base64"));
      assert.equal(rgba.length, 4 * c.width * c.height);
      const got = MnistInput.preprocess(rgba, c.width, c.height);
      if (c.expected === null) {  // no ink: Python says "no digit", the page says nothing
        assert.equal(got, null);
        measured.preprocess[name] = 0;
        return;
      }
      assert.equal(got.length, 784);
      let largest = 0;
      got.forEach((v, i) => { largest = Math.max(largest, Math.abs(v - c.expected[i])); });
      // Pillow's fixed-point arithmetic reproduced: the same 28x28 input to a grey level (1/255)
      assert.ok(largest <= 1.01 / 255, `${name}: differs from mnist_preprocess by ${largest}`);
      assert.equal(Math.max(...got), 1);
      measured.preprocess[name] = largest;
    });
  }
});

describe("the shape calculator (LeNet-5's rules)", { skip }, () => {
  const lenet5 = fixtures.models.find((m) => m.label === "lenet5");

  test("starts from the graph's arguments: every one of LeNet-5's, defaults applied", () => {
    const shapes = LeNet.lenet5Shapes(lenet5.graph.arguments);
    assert.equal(shapes.total_parameters, 61706);
    assert.deepEqual(shapes.layers.map((l) => l.output_shape),
                     [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5], [120, 1, 1], [84], [10]]);
    const graphShapes = lenet5.cases[0].stages;
    for (const l of shapes.layers) assert.deepEqual(l.output_shape, graphShapes[l.layer].shape, l.layer);
  });

  test("an invalid combination names the argument", () => {
    assert.throws(() => LeNet.lenet5Shapes({ ...lenet5.graph.arguments, c3_padding: -1 }),
                  (p) => p.key === "calc.c3_padding" && p.values.value === -1);
    assert.throws(() => LeNet.lenet5Shapes({ ...lenet5.graph.arguments, stride: 4 }),
                  (p) => p.key === "calc.no_output" && p.values.layer === "C3");
  });
});
