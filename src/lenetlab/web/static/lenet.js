// lenet.js: a lenetlab model graph evaluated in plain JavaScript, the explanation of any value it computes,
// the page's numbers and the shape calculator's rules (mnist.js preprocesses a drawing). Shared by the served page and the exported one (lenetlab export):
// no framework, no build step. The graph format is written by lenetlab/graph.py (model_graph). It runs under
// node too (module.exports below): tests/js checks it against PyTorch (tests/test_js_units.py).
"use strict";

const LeNet = (() => {
  // ----- the graph: float32 weights from base64 -----
  function decodeTensor(t) {
    const bin = atob(t.data);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return { shape: t.shape, values: new Float32Array(bytes.buffer) };
  }

  function load(graph) {
    for (const stage of graph.stages) {
      for (const op of stage.ops) {
        if (op.weight && !op.w) { op.w = decodeTensor(op.weight); op.b = op.bias ? decodeTensor(op.bias) : null; }
      }
    }
    return graph;
  }

  // ----- the six operations; a tensor is { shape: [c, h, w] or [n], data: Float64Array } -----
  // Every constant of an operation comes with it in the graph (an activation's slope, alpha, A and S):
  // none is written again here.
  function erf(x) {  // Abramowitz and Stegun 7.1.26: |error| < 1.5e-7 (GELU only)
    const s = Math.sign(x), a = Math.abs(x), t = 1 / (1 + 0.3275911 * a);
    const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
      * Math.exp(-a * a);
    return s * y;
  }
  const ACTIVATIONS = {
    tanh: () => Math.tanh,
    relu: () => (v) => (v > 0 ? v : 0),
    sigmoid: () => (v) => 1 / (1 + Math.exp(-v)),
    gelu: () => (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    elu: (op) => (v) => (v > 0 ? v : op.alpha * (Math.exp(v) - 1)),
    leaky_relu: (op) => (v) => (v > 0 ? v : op.slope * v),
    scaled_tanh: (op) => (v) => op.A * Math.tanh(op.S * v),  // LeNet-5 of 1998: A tanh(S v), A and S from Python
  };

  function conv(x, op) {
    const [cin, h, w] = x.shape, [cout, , k] = op.w.shape, s = op.stride, p = op.padding;
    const oh = Math.floor((h + 2 * p - k) / s) + 1, ow = Math.floor((w + 2 * p - k) / s) + 1;
    const out = new Float64Array(cout * oh * ow), W = op.w.values, B = op.b.values, X = x.data;
    for (let co = 0; co < cout; co++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let sum = B[co];
          for (let ci = 0; ci < cin; ci++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * s + ky - p;
              if (iy < 0 || iy >= h) continue;
              const wRow = ((co * cin + ci) * k + ky) * k, xRow = (ci * h + iy) * w;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * s + kx - p;
                if (ix >= 0 && ix < w) sum += W[wRow + kx] * X[xRow + ix];
              }
            }
          }
          out[(co * oh + oy) * ow + ox] = sum;
        }
      }
    }
    return { shape: [cout, oh, ow], data: out };
  }

  function linear(x, op) {
    const [nout, nin] = op.w.shape, W = op.w.values, B = op.b.values, X = x.data;
    const out = new Float64Array(nout);
    for (let o = 0; o < nout; o++) {
      let sum = B[o];
      for (let i = 0; i < nin; i++) sum += W[o * nin + i] * X[i];
      out[o] = sum;
    }
    return { shape: [nout], data: out };
  }

  function pool(x, op) {
    const [c, h, w] = x.shape, k = op.size, s = op.stride;
    const oh = Math.floor((h - k) / s) + 1, ow = Math.floor((w - k) / s) + 1;
    const out = new Float64Array(c * oh * ow), X = x.data;
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = op.kind === "max" ? -Infinity : 0;
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const v = X[(ch * h + oy * s + ky) * w + ox * s + kx];
              acc = op.kind === "max" ? Math.max(acc, v) : acc + v;
            }
          }
          out[(ch * oh + oy) * ow + ox] = op.kind === "max" ? acc : acc / (k * k);
        }
      }
    }
    return { shape: [c, oh, ow], data: out };
  }

  // LeNet-5 of 1998: Euclidean RBF units, minus the squared distance to each fixed prototype.
  function rbf(x, op) {
    const [nout, nin] = op.w.shape, W = op.w.values, X = x.data, out = new Float64Array(nout);
    for (let o = 0; o < nout; o++) {
      let sum = 0;
      for (let i = 0; i < nin; i++) sum += (X[i] - W[o * nin + i]) ** 2;
      out[o] = -sum;
    }
    return { shape: [nout], data: out };
  }

  function apply(x, op) {
    if (op.op === "conv") return conv(x, op);
    if (op.op === "rbf") return rbf(x, op);
    if (op.op === "linear") return linear(x, op);
    if (op.op === "pool") return pool(x, op);
    if (op.op === "flatten") return { shape: [x.data.length], data: x.data };
    if (op.op === "act") {
      const f = ACTIVATIONS[op.fn](op);
      return { shape: x.shape, data: x.data.map(f) };
    }
    throw new Error(`unknown operation ${op.op}`);
  }

  function softmax(z) {
    const m = Math.max(...z), e = Array.from(z, (v) => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  // Every stage's input and every operation's output for one 28x28 image (784 numbers in [0, 1], row-major).
  function forward(graph, pixels) {
    if (pixels.length !== 784) throw new Error(`expected 784 pixels (28x28), got ${pixels.length}`);
    let x = { shape: graph.input, data: Float64Array.from(pixels) };
    const stages = [];
    for (const stage of graph.stages) {
      const input = x, steps = [];
      for (const op of stage.ops) { x = apply(x, op); steps.push(x); }
      stages.push({ name: stage.name, ops: stage.ops, input, steps, output: x });
    }
    const logits = Array.from(x.data);
    const probabilities = softmax(logits);
    let label = 0;
    probabilities.forEach((p, k) => { if (p > probabilities[label]) label = k; });
    return { input: Array.from(pixels), stages, logits, probabilities, label };
  }

  // ----- where one value comes from -----
  // unit: [channel, y, x] for maps, [i] for vectors. Returns the real numbers of this input, which add up.
  function explain(trace, stageName, unit) {
    const index = trace.stages.findIndex((s) => s.name === stageName);
    if (index < 0) throw new Error(`no stage ${stageName}`);
    const stage = trace.stages[index];
    const below = index > 0 ? trace.stages[index - 1].name : "input";
    const first = stage.ops[0], out = stage.output;
    if (out.shape.length === 3 && unit.length === 1) unit = [unit[0], 0, 0];  // C5: 120 maps of 1x1, shown as a strip
    const flat = out.shape.length === 3 ? (unit[0] * out.shape[1] + unit[1]) * out.shape[2] + unit[2] : unit[0];
    const result = { stage: stageName, unit, below, value: out.data[flat] };
    const act = stage.ops.find((op) => op.op === "act");
    if (first.op === "conv") {
      const [c, oy, ox] = unit, x = stage.input, [cin, h, w] = x.shape, k = first.w.shape[2];
      const s = first.stride, p = first.padding, W = first.w.values;
      const inputs = [], kernel = [], products = [];
      let sum = 0;
      for (let ci = 0; ci < cin; ci++) {
        const rowsIn = [], rowsK = [], rowsP = [];
        for (let ky = 0; ky < k; ky++) {
          const rIn = [], rK = [], rP = [];
          for (let kx = 0; kx < k; kx++) {
            const iy = oy * s + ky - p, ix = ox * s + kx - p;
            const v = iy >= 0 && iy < h && ix >= 0 && ix < w ? x.data[(ci * h + iy) * w + ix] : 0;
            const wt = W[((c * cin + ci) * k + ky) * k + kx];
            rIn.push(v); rK.push(wt); rP.push(v * wt);
            sum += v * wt;
          }
          rowsIn.push(rIn); rowsK.push(rK); rowsP.push(rP);
        }
        inputs.push(rowsIn); kernel.push(rowsK); products.push(rowsP);
      }
      Object.assign(result, {
        kind: "conv", window: { top: oy * s - p, left: ox * s - p, size: k, channels: cin },
        inputs, kernel, products, sum, bias: first.b.values[c], pre: stage.steps[0].data[flat],
        activation: act ? act.fn : null, batchNormFolded: !!first.batch_norm_folded,
      });
    } else if (first.op === "pool") {
      const [c, oy, ox] = unit, x = stage.input, [, h, w] = x.shape, k = first.size, s = first.stride;
      const window = [];
      for (let ky = 0; ky < k; ky++) {
        const row = [];
        for (let kx = 0; kx < k; kx++) row.push(x.data[(c * h + oy * s + ky) * w + ox * s + kx]);
        window.push(row);
      }
      Object.assign(result, { kind: "pool", pooling: first.kind, window, top: oy * s, left: ox * s, size: k });
    } else if (first.op === "linear" || (first.op === "flatten" && stage.ops[1]?.op === "linear")) {
      const lin = first.op === "linear" ? first : stage.ops[1];
      const [, nin] = lin.w.shape, W = lin.w.values, X = stage.input.data;
      const contributions = [];
      let sum = 0;
      for (let i = 0; i < nin; i++) { const v = W[unit[0] * nin + i] * X[i]; contributions.push(v); sum += v; }
      const top = contributions.map((v, i) => ({ i, input: X[i], weight: W[unit[0] * nin + i], product: v }))
        .sort((a, b) => Math.abs(b.product) - Math.abs(a.product)).slice(0, 10);
      const pre = stage.steps[stage.ops.indexOf(lin)].data[unit[0]];
      Object.assign(result, { kind: "linear", inputs: nin, sum, bias: lin.b.values[unit[0]], pre, top,
                              activation: act ? act.fn : null });
      if (index === trace.stages.length - 1) {
        Object.assign(result, { probability: trace.probabilities[unit[0]], logits: trace.logits });
      }
    } else {
      result.kind = "other";
    }
    return result;
  }

  // ----- numbers as the page's language writes them (lenetlab/i18n: number): every number the page shows -----
  // English: 61,706 and -0.735. French: a narrow no-break space between thousands (61 706), the decimal comma
  // and the true minus sign (−0,735); Intl's "fr" writes a hyphen, so the page does not rely on it.
  function formatNumber(value, lang = "en", digits = 0) {
    if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : `${value < 0 ? (lang === "fr" ? "\u2212" : "-") : ""}∞`;
    const fixed = Math.abs(value).toFixed(digits);
    const [whole, fraction] = fixed.split(".");
    const french = lang === "fr";
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, french ? "\u202f" : ",");
    const negative = value < 0 && /[1-9]/.test(fixed);  // -0.0001 shown as 0.000, not as -0.000
    return `${negative ? (french ? "\u2212" : "-") : ""}${grouped}${fraction ? (french ? "," : ".") + fraction : ""}`;
  }

  // ----- the shape calculator: lenetlab.models.lenet.LeNet5's rules, checks in the same order -----
  // An invalid combination throws { key, values }: the page words it from its catalogue; in English the
  // words are exactly those of `lenetlab train`'s error.
  function outSize(size, kernel, stride, padding, layer) {
    const out = Math.floor((size + 2 * padding - kernel) / stride) + 1;
    if (size + 2 * padding < kernel || out < 1) throw { key: "calc.no_output", values: { layer, size, kernel, stride, padding } };
    return out;
  }

  // `a`: every argument of LeNet5, as the graph's `arguments` (its constructor's, defaults applied) holds them,
  // with any the reader changed. c3_kernel null: C3 takes kernel_size; c5_kernel null: C5 "follows", its kernel
  // the side of what reaches it.
  function lenet5Shapes(a) {
    for (const name of ["n_classes", "c1_channels", "c3_channels", "c5_channels", "f6_units", "kernel_size", "stride",
                        "c3_stride", "pool_size", "in_channels", "input_size"]) {
      if (!(a[name] >= 1)) throw { key: "calc.at_least_one", values: { name, value: a[name] } };
    }
    for (const name of ["c3_kernel", "c5_kernel"]) {  // null (or absent): follows, as in Python
      if (a[name] != null && !(a[name] >= 1)) throw { key: "calc.at_least_one", values: { name, value: a[name] } };
    }
    if (!(a.padding >= 0)) throw { key: "calc.padding", values: { value: a.padding } };
    if (!(a.c3_padding >= 0)) throw { key: "calc.c3_padding", values: { value: a.c3_padding } };
    const p = a.pool_size, bn = !!a.batch_norm;
    const conv = (cin, cout, k, side) => ({ parameters: cout * cin * k * k + (bn ? 2 * cout : cout),
                                            macs: side * side * cout * cin * k * k });
    const k1 = a.kernel_size, k3 = a.c3_kernel ?? k1;
    const c1 = outSize(a.input_size, k1, a.stride, a.padding, "C1");
    const s2 = outSize(c1, p, p, 0, "S2");
    const c3 = outSize(s2, k3, a.c3_stride, a.c3_padding, "C3");
    const s4 = outSize(c3, p, p, 0, "S4");
    const k5 = a.c5_kernel ?? s4;  // C5 follows: fully connected to S4's maps, a 1x1 output
    const c5 = outSize(s4, k5, 1, 0, "C5");
    const flat = a.c5_channels * c5 * c5;
    const layers = [
      { layer: "C1", output_shape: [a.c1_channels, c1, c1], ...conv(a.in_channels, a.c1_channels, k1, c1) },
      { layer: "S2", output_shape: [a.c1_channels, s2, s2], parameters: 0, macs: 0 },
      { layer: "C3", output_shape: [a.c3_channels, c3, c3], ...conv(a.c1_channels, a.c3_channels, k3, c3) },
      { layer: "S4", output_shape: [a.c3_channels, s4, s4], parameters: 0, macs: 0 },
      { layer: "C5", output_shape: [a.c5_channels, c5, c5], ...conv(a.c3_channels, a.c5_channels, k5, c5) },
      { layer: "F6", output_shape: [a.f6_units], parameters: a.f6_units * (flat + 1), macs: flat * a.f6_units },
      { layer: "output", output_shape: [a.n_classes], parameters: a.n_classes * (a.f6_units + 1),
        macs: a.f6_units * a.n_classes },
    ];
    return { layers, total_parameters: layers.reduce((s, l) => s + l.parameters, 0),
             total_macs: layers.reduce((s, l) => s + l.macs, 0) };
  }

  return { load, forward, explain, softmax, lenet5Shapes, formatNumber };
})();

if (typeof module !== "undefined") module.exports = LeNet;
