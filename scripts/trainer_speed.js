// LeNet-5 steps of the page's training engine under node (V8, as in Chromium), on real MNIST images: milliseconds
// per image and the 12,000-image epoch they extrapolate to. docs/see-it.md: what each step of the engine bought.
//
//   python -c "import json, torch; from lenetlab.graph import model_graph; from lenetlab.models import build_model;
//              torch.manual_seed(0); print(json.dumps(model_graph(build_model('lenet5'), 'lenet5')))" > lenet5.json
//   node scripts/trainer_speed.js lenet5.json [images=1280] [static folder=src/lenetlab/web/static] [--js]
//
// --js: the products in JS only, as an engine without WebAssembly SIMD runs them.
"use strict";
const path = require("node:path"), fs = require("node:fs"), zlib = require("node:zlib");
const jsOnly = process.argv.includes("--js");
process.argv = process.argv.filter((a) => a !== "--js");

const ROOT = path.join(__dirname, "..");
const STATIC = path.resolve(process.argv[4] || path.join(ROOT, "src", "lenetlab", "web", "static"));
const LeNet = require(path.join(STATIC, "lenet.js")), Trainer = require(path.join(STATIC, "trainer.js"));
const MNIST = path.join(ROOT, "src", "lenetlab", "datasets", "mnist");
const images = zlib.gunzipSync(fs.readFileSync(path.join(MNIST, "train-images-idx3-ubyte.gz"))).subarray(16);
const labels = Int32Array.from(zlib.gunzipSync(fs.readFileSync(path.join(MNIST, "train-labels-idx1-ubyte.gz"))).subarray(8));

if (jsOnly) require(path.join(STATIC, "layers.js")).simd(false);
const net = Trainer.build(LeNet.load(JSON.parse(fs.readFileSync(process.argv[2], "utf8"))));
const optimizer = Trainer.sgd(net, { weightDecay: 5e-4 }), rand = Trainer.random(0), batch = 128;
const n = Number(process.argv[3] || 1280), order = Trainer.shuffled(labels.length, rand);
const started = performance.now();
for (let s = 0; s < n / batch; s++) {
  const { x, y } = Trainer.batch(images, labels, 28, order, s * batch, (s + 1) * batch, 2, rand);
  Trainer.gradients(net, x, y, 0.1);
  optimizer.step(0.05);
}
const ms = performance.now() - started;
console.log(`${jsOnly ? "JS" : "WebAssembly SIMD"} products, ${n} images: ${(ms / n).toFixed(2)} ms per image, an epoch of 12,000 in ${(12 * ms / n).toFixed(1)} s`);
