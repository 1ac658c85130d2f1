// gpu_kernels.js: the WGSL kernels of the page's WebGPU engine (gpu.js), each one's text generated with its
// layer's sizes written in as constants: the batch gathered and shifted, convolution (any stride and padding),
// linear, average and max pooling, the activations, softmax cross-entropy with label smoothing, and SGD. Every
// kernel declares the step's uniform `current` (binding 0: n, the batch's size; lr; first, the optimizer's first
// step; not named `step`, a WGSL built-in) and then its buffers in the order gpu.js binds them.
"use strict";

const GpuKernels = (() => {
  const GROUP = 64;                // threads per workgroup
  const ROW = 32768;               // workgroups per row of a 2-D dispatch (a dimension holds at most 65535)
  const SERIAL_SUM = 1024;         // a weight's gradient summed by one thread up to this many terms, else by 64
  const HEAD = `struct Current { n: u32, lr: f32, first: u32, spare: u32 };
@group(0) @binding(0) var<uniform> current: Current;`;
  const INDEX = `@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.y * groups.x + wid.x) * ${GROUP}u + lid.x;`;
  const u = (v) => `${v >>> 0}u`;
  const f = (v) => { const s = String(Number(v)); return /[.eE]/.test(s) ? s : `${s}.0`; };
  const buffers = (names) => names.map(([name, access, type = "f32"], i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${type}>;`).join("\n");

  // The activations, as WGSL expressions of x (their input) and y (their output), with the derivative.
  // tanh by exp(-2|x|), which never overflows.
  function activation(op) {
    const tanh = (v) => `(sign(${v}) * (1.0 - exp(-2.0 * abs(${v}))) / (1.0 + exp(-2.0 * abs(${v}))))`;
    switch (op.fn) {
      case "tanh": return [tanh("x"), "1.0 - y * y"];
      case "relu": return ["max(x, 0.0)", "select(0.0, 1.0, x > 0.0)"];
      case "sigmoid": return ["1.0 / (1.0 + exp(-x))", "y * (1.0 - y)"];
      case "elu": return [`select(${f(op.alpha)} * (exp(x) - 1.0), x, x > 0.0)`, `select(y + ${f(op.alpha)}, 1.0, x > 0.0)`];
      case "leaky_relu": return [`select(${f(op.slope)} * x, x, x > 0.0)`, `select(${f(op.slope)}, 1.0, x > 0.0)`];
      case "scaled_tanh": return [`${f(op.A)} * ${tanh(`(${f(op.S)} * x)`)}`, `${f(op.S)} * (${f(op.A)} - y * y / ${f(op.A)})`];
      default: throw { key: "lab.unsupported", values: { what: op.fn } };
    }
  }

  // The batch: image `index[b]` of the uint8 store (four pixels a word), shifted by (dy, dx) with zeros coming in.
  const gather = (side) => `${HEAD}
${buffers([["images", "read", "u32"], ["batch", "read", "u32"], ["x", "read_write"]])}
${INDEX}
  let area = ${u(side * side)};
  if (i >= current.n * area) { return; }
  let b = i / area; let r = i32((i % area) / ${u(side)}); let c = i32(i % ${u(side)});
  let sr = r + bitcast<i32>(batch[2u * current.n + b]); let sc = c + bitcast<i32>(batch[3u * current.n + b]);
  var value = 0.0;
  if (sr >= 0 && sr < ${side} && sc >= 0 && sc < ${side}) {
    let at = batch[b] * area + u32(sr) * ${u(side)} + u32(sc);
    value = f32((images[at / 4u] >> (8u * (at % 4u))) & 255u) / 255.0;
  }
  x[i] = value;
}`;

  function convKernels(g, wAt, bAt) {
    const { ci, h, wd, co, k, s, p, oh, ow } = g;
    const forward = `${HEAD}
${buffers([["x", "read"], ["params", "read"], ["y", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(co * oh * ow)}) { return; }
  let ox = i % ${u(ow)}; let oy = (i / ${u(ow)}) % ${u(oh)}; let o = (i / ${u(oh * ow)}) % ${u(co)}; let b = i / ${u(co * oh * ow)};
  var sum = params[${u(bAt)} + o];
  for (var c = 0u; c < ${u(ci)}; c++) {
    for (var ky = 0u; ky < ${u(k)}; ky++) {
      let iy = i32(oy * ${u(s)} + ky) - ${p};
      if (iy < 0 || iy >= ${h}) { continue; }
      for (var kx = 0u; kx < ${u(k)}; kx++) {
        let ix = i32(ox * ${u(s)} + kx) - ${p};
        if (ix < 0 || ix >= ${wd}) { continue; }
        sum += params[${u(wAt)} + ((o * ${u(ci)} + c) * ${u(k)} + ky) * ${u(k)} + kx] * x[((b * ${u(ci)} + c) * ${u(h)} + u32(iy)) * ${u(wd)} + u32(ix)];
      }
    }
  }
  y[i] = sum;
}`;
    // Each input pixel's gradient: the outputs whose window holds it, only those taps visited (ky ≡ iy + p mod s,
    // and the output row inside the map), since most are outside when the map is small (C5: one tap in 25).
    const taps = (v, out) => `let t${v} = i${v} + ${p};
    var first${v} = max(0, t${v} - ${(out - 1) * s});
    first${v} += (t${v} - first${v}) % ${s};`;
    const input = `${HEAD}
${buffers([["dy", "read"], ["params", "read"], ["dx", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(ci * h * wd)}) { return; }
  let ix = i32(i % ${u(wd)}); let iy = i32((i / ${u(wd)}) % ${u(h)}); let c = (i / ${u(h * wd)}) % ${u(ci)}; let b = i / ${u(ci * h * wd)};
  ${taps("y", oh)}
  ${taps("x", ow)}
  var sum = 0.0;
  for (var o = 0u; o < ${u(co)}; o++) {
    for (var ky = firsty; ky <= min(${k - 1}, ty); ky += ${s}) {
      for (var kx = firstx; kx <= min(${k - 1}, tx); kx += ${s}) {
        sum += params[${u(wAt)} + ((o * ${u(ci)} + c) * ${u(k)} + u32(ky)) * ${u(k)} + u32(kx)]
             * dy[((b * ${u(co)} + o) * ${u(oh)} + u32((ty - ky) / ${s})) * ${u(ow)} + u32((tx - kx) / ${s})];
      }
    }
  }
  dx[i] = sum;
}`;
    // One workgroup per weight (then per bias): its sum over the batch and the output pixels, shared by 64 threads.
    const weights = co * ci * k * k;
    const parameters = `${HEAD}
${buffers([["x", "read"], ["dy", "read"], ["grads", "read_write"]])}
var<workgroup> partial: array<f32, ${GROUP}>;
@compute @workgroup_size(${GROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let which = wid.y * ${u(ROW)} + wid.x;
  if (which >= ${u(weights + co)}) { return; }
  let bias = which >= ${u(weights)};
  let o = select(which / ${u(ci * k * k)}, which - ${u(weights)}, bias);
  let c = (which / ${u(k * k)}) % ${u(ci)}; let ky = i32((which / ${u(k)}) % ${u(k)}); let kx = i32(which % ${u(k)});
  var sum = 0.0;
  for (var j = lid.x; j < current.n * ${u(oh * ow)}; j += ${GROUP}u) {
    let b = j / ${u(oh * ow)}; let oy = (j / ${u(ow)}) % ${u(oh)}; let ox = j % ${u(ow)};
    let g = dy[((b * ${u(co)} + o) * ${u(oh)} + oy) * ${u(ow)} + ox];
    if (bias) { sum += g; continue; }
    let iy = i32(oy * ${u(s)}) + ky - ${p}; let ix = i32(ox * ${u(s)}) + kx - ${p};
    if (iy >= 0 && iy < ${h} && ix >= 0 && ix < ${wd}) { sum += g * x[((b * ${u(ci)} + c) * ${u(h)} + u32(iy)) * ${u(wd)} + u32(ix)]; }
  }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var half = ${GROUP / 2}u; half > 0u; half /= 2u) {
    if (lid.x < half) { partial[lid.x] += partial[lid.x + half]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { grads[select(${u(wAt)} + which, ${u(bAt)} + o, bias)] = partial[0]; }
}`;
    // When each sum is short (C5: one output pixel an image), a thread per weight sums it alone: a workgroup
    // would leave most of its threads idle and wait at its barriers.
    const serial = `${HEAD}
${buffers([["x", "read"], ["dy", "read"], ["grads", "read_write"]])}
${INDEX}
  if (i >= ${u(weights + co)}) { return; }
  let bias = i >= ${u(weights)};
  let o = select(i / ${u(ci * k * k)}, i - ${u(weights)}, bias);
  let c = (i / ${u(k * k)}) % ${u(ci)}; let ky = i32((i / ${u(k)}) % ${u(k)}); let kx = i32(i % ${u(k)});
  var sum = 0.0;
  for (var j = 0u; j < current.n * ${u(oh * ow)}; j++) {
    let b = j / ${u(oh * ow)}; let oy = (j / ${u(ow)}) % ${u(oh)}; let ox = j % ${u(ow)};
    let g = dy[((b * ${u(co)} + o) * ${u(oh)} + oy) * ${u(ow)} + ox];
    if (bias) { sum += g; continue; }
    let iy = i32(oy * ${u(s)}) + ky - ${p}; let ix = i32(ox * ${u(s)}) + kx - ${p};
    if (iy >= 0 && iy < ${h} && ix >= 0 && ix < ${wd}) { sum += g * x[((b * ${u(ci)} + c) * ${u(h)} + u32(iy)) * ${u(wd)} + u32(ix)]; }
  }
  grads[select(${u(wAt)} + i, ${u(bAt)} + o, bias)] = sum;
}`;
    return oh * ow * g.batchSize <= SERIAL_SUM ? { forward, input, parameters: serial, groups: Math.ceil((weights + co) / GROUP) }
      : { forward, input, parameters, groups: weights + co };
  }

  function linearKernels(g, wAt, bAt) {
    const { nin, nout } = g;
    const forward = `${HEAD}
${buffers([["x", "read"], ["params", "read"], ["y", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(nout)}) { return; }
  let o = i % ${u(nout)}; let b = i / ${u(nout)};
  var sum = params[${u(bAt)} + o];
  for (var j = 0u; j < ${u(nin)}; j++) { sum += params[${u(wAt)} + o * ${u(nin)} + j] * x[b * ${u(nin)} + j]; }
  y[i] = sum;
}`;
    const input = `${HEAD}
${buffers([["dy", "read"], ["params", "read"], ["dx", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(nin)}) { return; }
  let j = i % ${u(nin)}; let b = i / ${u(nin)};
  var sum = 0.0;
  for (var o = 0u; o < ${u(nout)}; o++) { sum += params[${u(wAt)} + o * ${u(nin)} + j] * dy[b * ${u(nout)} + o]; }
  dx[i] = sum;
}`;
    // One thread per weight (then per bias): a sum over the batch only.
    const parameters = `${HEAD}
${buffers([["x", "read"], ["dy", "read"], ["grads", "read_write"]])}
${INDEX}
  if (i >= ${u(nout * nin + nout)}) { return; }
  let bias = i >= ${u(nout * nin)};
  let o = select(i / ${u(nin)}, i - ${u(nout * nin)}, bias); let j = i % ${u(nin)};
  var sum = 0.0;
  for (var b = 0u; b < current.n; b++) { sum += dy[b * ${u(nout)} + o] * select(x[b * ${u(nin)} + j], 1.0, bias); }
  grads[select(${u(wAt)} + i, ${u(bAt)} + o, bias)] = sum;
}`;
    return { forward, input, parameters, size: nout * nin + nout };
  }

  // Pooling: the average, or the maximum (the first of equal maxima, as PyTorch) with where it was.
  function poolKernels(g) {
    const { c, h, wd, k, s, oh, ow, max } = g;
    const forward = `${HEAD}
${buffers([["x", "read"], ["y", "read_write"], ...(max ? [["winners", "read_write", "u32"]] : [])])}
${INDEX}
  if (i >= current.n * ${u(c * oh * ow)}) { return; }
  let ox = i % ${u(ow)}; let oy = (i / ${u(ow)}) % ${u(oh)}; let plane = i / ${u(oh * ow)};
  var acc = ${max ? "-3.4e38; var best = 0u" : "0.0"};
  for (var ky = 0u; ky < ${u(k)}; ky++) {
    for (var kx = 0u; kx < ${u(k)}; kx++) {
      let at = (plane * ${u(h)} + oy * ${u(s)} + ky) * ${u(wd)} + ox * ${u(s)} + kx;
      ${max ? "if (x[at] > acc || (ky == 0u && kx == 0u)) { acc = x[at]; best = at; }" : "acc += x[at];"}
    }
  }
  y[i] = ${max ? "acc" : `acc / ${f(k * k)}`};
  ${max ? "winners[i] = best;" : ""}
}`;
    const input = `${HEAD}
${buffers([["dy", "read"], ...(max ? [["winners", "read", "u32"]] : []), ["dx", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(c * h * wd)}) { return; }
  let ix = i32(i % ${u(wd)}); let iy = i32((i / ${u(wd)}) % ${u(h)}); let plane = i / ${u(h * wd)};
  var sum = 0.0;
  for (var oy = max(0, (iy - ${k - 1} + ${s - 1}) / ${s}); oy <= min(iy / ${s}, ${oh - 1}); oy++) {
    for (var ox = max(0, (ix - ${k - 1} + ${s - 1}) / ${s}); ox <= min(ix / ${s}, ${ow - 1}); ox++) {
      let o = (plane * ${u(oh)} + u32(oy)) * ${u(ow)} + u32(ox);
      ${max ? "if (winners[o] == i) { sum += dy[o]; }" : `sum += dy[o] / ${f(k * k)};`}
    }
  }
  dx[i] = sum;
}`;
    return { forward, input };
  }

  function activationKernels(op, size) {
    const [value, derivative] = activation(op);
    const forward = `${HEAD}
${buffers([["inputs", "read"], ["outputs", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(size)}) { return; }
  let x = inputs[i];
  outputs[i] = ${value};
}`;
    const input = `${HEAD}
${buffers([["inputs", "read"], ["outputs", "read"], ["dy", "read"], ["dx", "read_write"]])}
${INDEX}
  if (i >= current.n * ${u(size)}) { return; }
  let x = inputs[i]; let y = outputs[i];
  dx[i] = dy[i] * (${derivative});
}`;
    return { forward, input };
  }

  // Softmax cross-entropy with label smoothing, per image: its loss, whether it was right, the logits' gradient
  // (divided by n: the loss is the batch's mean). Then one thread adds the batch to the running totals.
  const loss = (classes, smoothing) => `${HEAD}
${buffers([["z", "read"], ["batch", "read", "u32"], ["dz", "read_write"], ["each", "read_write"]])}
${INDEX}
  if (i >= current.n) { return; }
  let label = batch[current.n + i]; let row = i * ${u(classes)};
  var top = z[row]; var arg = 0u;
  for (var c = 1u; c < ${u(classes)}; c++) { if (z[row + c] > top) { top = z[row + c]; arg = c; } }
  var total = 0.0;
  for (var c = 0u; c < ${u(classes)}; c++) { total += exp(z[row + c] - top); }
  let logTotal = log(total);
  var sum = 0.0;
  for (var c = 0u; c < ${u(classes)}; c++) {
    let logP = z[row + c] - top - logTotal;
    let wanted = select(0.0, ${f(1 - smoothing)}, c == label) + ${f(smoothing / classes)};
    sum -= wanted * logP;
    dz[row + c] = (exp(logP) - wanted) / f32(current.n);
  }
  each[2u * i] = sum;
  each[2u * i + 1u] = select(0.0, 1.0, arg == label);
}`;
  const tally = `${HEAD}
${buffers([["each", "read"], ["totals", "read_write"]])}
@compute @workgroup_size(1)
fn main() {
  var sum = 0.0; var right = 0.0;
  for (var b = 0u; b < current.n; b++) { sum += each[2u * b]; right += each[2u * b + 1u]; }
  totals[0] = sum / f32(current.n);
  totals[1] += sum;
  totals[2] += right;
  totals[3] += f32(current.n);
}`;

  // torch.optim.SGD (dampening 0), every parameter at once.
  const sgd = (count, { momentum, nesterov, weightDecay }) => `${HEAD}
${buffers([["params", "read_write"], ["grads", "read"], ["moments", "read_write"]])}
${INDEX}
  if (i >= ${u(count)}) { return; }
  var g = grads[i] + ${f(weightDecay)} * params[i];
  let m = select(${f(momentum)} * moments[i] + g, g, current.first == 1u);
  moments[i] = m;
  g = ${nesterov ? `g + ${f(momentum)} * m` : "m"};
  params[i] -= current.lr * g;
}`;

  return { GROUP, ROW, gather, convKernels, linearKernels, poolKernels, activationKernels, loss, tally, sgd };
})();

if (typeof module !== "undefined") module.exports = GpuKernels;
