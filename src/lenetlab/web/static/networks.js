// networks.js: a new network for the page to train, as a lenetlab graph (lenetlab/graph.py) built from a model's
// arguments: LeNet-5 with any choice the shape calculator accepts, the course's MLP, a fully connected network of
// any widths. Its arguments are those of lenetlab's model (the page receives their defaults from Python), so
// that `lenetlab import` rebuilds the same model around the weights the page trained. The weights start as
// PyTorch's do (uniform in ±1/√fan-in, the default of nn.Conv2d and nn.Linear), drawn from a seeded generator.
// Runs under node too (module.exports below; tests/js/trainer.test.js).
"use strict";

/* global LeNet */
const Networks = (() => {
  const lenet = typeof module !== "undefined" ? require("./lenet.js") : LeNet;
  const ACTIVATIONS = ["tanh", "relu", "sigmoid"];  // those offered; each needs no constant of its own

  function weights(shape, fanIn, rand) {
    const bound = 1 / Math.sqrt(fanIn), n = shape.reduce((a, b) => a * b, 1), values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = (2 * rand() - 1) * bound;
    return { shape, values };
  }

  function conv(cout, cin, k, stride, padding, rand) {
    const fanIn = cin * k * k;
    return { op: "conv", w: weights([cout, cin, k, k], fanIn, rand), b: weights([cout], fanIn, rand), stride, padding,
             batch_norm_folded: false };
  }

  function linear(nout, nin, rand) {
    return { op: "linear", w: weights([nout, nin], nin, rand), b: weights([nout], nin, rand) };
  }

  function activation(fn) {
    if (!ACTIVATIONS.includes(fn)) throw { key: "lab.activation", values: { value: fn, choices: ACTIVATIONS.join(", ") } };
    return { op: "act", fn };
  }

  // LeNet-5 of lenetlab/models/lenet.py: C1, S2, C3, S4, C5 (its kernel follows what reaches it unless c5_kernel),
  // flatten, F6, output. An impossible combination throws the calculator's { key, values }, the words of
  // `lenetlab train`'s error.
  function lenet5(a, rand) {
    if (a.batch_norm) throw { key: "lab.unsupported", values: { what: "batch_norm" } };
    const shapes = lenet.lenet5Shapes(a), [c1, , c3, s4, c5] = shapes.layers.map((l) => l.output_shape);
    const k1 = a.kernel_size, k3 = a.c3_kernel ?? k1, k5 = a.c5_kernel ?? s4[1];
    const pool = { op: "pool", kind: a.pooling, size: a.pool_size, stride: a.pool_size };
    const act = activation(a.activation);
    return [
      { name: "C1", ops: [conv(c1[0], a.in_channels, k1, a.stride, a.padding, rand), act] },
      { name: "S2", ops: [pool] },
      { name: "C3", ops: [conv(c3[0], c1[0], k3, a.c3_stride, a.c3_padding, rand), act] },
      { name: "S4", ops: [pool] },
      { name: "C5", ops: [conv(c5[0], c3[0], k5, 1, 0, rand), act] },
      { name: "flatten", ops: [{ op: "flatten" }] },
      { name: "F6", ops: [linear(a.f6_units, c5[0] * c5[1] * c5[2], rand), act] },
      { name: "output", ops: [linear(a.n_classes, a.f6_units, rand)] },
    ];
  }

  // The course's MLP (hidden_1, hidden_2) and FCNet (hidden: a list of widths): flatten, H1, H2, ..., output.
  function dense(widths, a, rand) {
    if (!widths.length || !widths.every((w) => Number.isInteger(w) && w >= 1)) {
      throw { key: "lab.widths", values: { value: widths.map((w) => (Number.isNaN(w) ? "–" : w)).join(" ; ") } };
    }
    const stages = [{ name: "flatten", ops: [{ op: "flatten" }] }];
    let inputs = a.in_channels * a.input_size * a.input_size;
    widths.forEach((width, i) => {
      stages.push({ name: `H${i + 1}`, ops: [linear(width, inputs, rand), activation(a.activation)] });
      inputs = width;
    });
    stages.push({ name: "output", ops: [linear(a.n_classes, inputs, rand)] });
    return stages;
  }

  // The graph of model `name` ("lenet5", "mlp" or "fcnet") with `args` (every argument, defaults applied).
  function create(name, args, rand) {
    let stages;
    if (name === "lenet5") stages = lenet5(args, rand);
    else if (name === "mlp") stages = dense([args.hidden_1, args.hidden_2], args, rand);
    else if (name === "fcnet") stages = dense(args.hidden, args, rand);
    else throw { key: "lab.unsupported", values: { what: name } };
    return { format: "lenetlab-graph-1", name, input: [args.in_channels, args.input_size, args.input_size],
             arguments: { ...args }, stages };
  }

  function parameters(graph) {
    return graph.stages.flatMap((s) => s.ops).reduce((n, op) => n + (op.w ? op.w.values.length + op.b.values.length : 0), 0);
  }

  return { create, parameters, ACTIVATIONS };
})();

if (typeof module !== "undefined") module.exports = Networks;
