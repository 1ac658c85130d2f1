// layers.js: the operations of a lenetlab graph (lenetlab/graph.py) as layers that run forward and backward over a
// batch, for the page's training engine (trainer.js). A batch tensor is { shape: [n, c, h, w] or [n, features],
// data: Float64Array }, row-major; parameters are Float64Array too (PyTorch's float32 numbers fit exactly, and
// the page's sums are then at least as precise as PyTorch's). Every product of the convolutions and the linear
// layers is one matrix product, `productNT`: WebAssembly SIMD where the engine has it, else JS blocked 2 x 4 so
// that V8 keeps eight sums in registers; measured in docs/see-it.md. Runs under node too (module.exports below; tests/js/trainer.test.js).
"use strict";

const Layers = (() => {
  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  const tensor = (shape) => ({ shape, data: new Float64Array(size(shape)) });

  // C[i * n + j] = sum over r of A[i * k + r] * B[j * k + r] (+ C's own value when `add`): A is m x k, B is
  // n x k, both with the summed dimension contiguous. Two rows of A against four of B at a time: each number
  // loaded serves four or two products, and the eight sums are independent (a single sum waits on itself).
  // From row `fromRow` and, above it, column `fromColumn` (what the WebAssembly product leaves to it).
  function productJS(A, B, C, m, n, k, add = false, fromRow = 0, fromColumn = 0) {
    const store = (at, value) => { C[at] = add ? C[at] + value : value; };
    const dot = (a, b) => {
      let s0 = 0, s1 = 0, r = 0;
      for (; r + 1 < k; r += 2) { s0 += A[a + r] * B[b + r]; s1 += A[a + r + 1] * B[b + r + 1]; }
      if (r < k) s0 += A[a + r] * B[b + r];
      return s0 + s1;
    };
    for (let i = 0; i < fromRow; i++) for (let j = fromColumn; j < n; j++) store(i * n + j, dot(i * k, j * k));
    let i = fromRow;
    for (; i + 1 < m; i += 2) {
      const a0 = i * k, a1 = a0 + k;
      let j = 0;
      for (; j + 3 < n; j += 4) {
        const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        for (let r = 0; r < k; r++) {
          const x0 = A[a0 + r], x1 = A[a1 + r], y0 = B[b0 + r], y1 = B[b1 + r], y2 = B[b2 + r], y3 = B[b3 + r];
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        }
        const o0 = i * n + j, o1 = o0 + n;
        store(o0, c00); store(o0 + 1, c01); store(o0 + 2, c02); store(o0 + 3, c03);
        store(o1, c10); store(o1 + 1, c11); store(o1 + 2, c12); store(o1 + 3, c13);
      }
      for (; j < n; j++) { store(i * n + j, dot(a0, j * k)); store((i + 1) * n + j, dot(a1, j * k)); }
    }
    for (; i < m; i++) for (let j = 0; j < n; j++) store(i * n + j, dot(i * k, j * k));
    return C;
  }

  // The same product in WebAssembly with SIMD (f64x2: two float64 lanes), 3 to 7 times faster than V8's JIT on
  // LeNet-5's products and the same float64 numbers in another order of summation (docs/see-it.md). Its text is
  // scripts/build_wasm.js's; an engine without WebAssembly SIMD gets null here and the products stay in JS.
  // WASM PRODUCT: scripts/build_wasm.js writes the next line.
  const WASM_PRODUCT = "AGFzbQEAAAABCwFgB39/f39/f38AAwIBAAUDAQAQBw4CA21lbQIABGdlbW0AAArwCAHtCAMNfwt7CHwgBUEDdCETIAVBfnFBA3QhEEEAIQcCQANAIAdBAmogA0oNASAAIAcgE2xqIQogCiATaiELQQAhCAJAA0AgCEEEaiAESg0BIAEgCCATbGohDCAMIBNqIQ0gDSATaiEOIA4gE2ohD/0MAAAAAAAAAAAAAAAAAAAAACEU/QwAAAAAAAAAAAAAAAAAAAAAIRVEAAAAAAAAAAAhH0QAAAAAAAAAACEg/QwAAAAAAAAAAAAAAAAAAAAAIRb9DAAAAAAAAAAAAAAAAAAAAAAhF0QAAAAAAAAAACEhRAAAAAAAAAAAISL9DAAAAAAAAAAAAAAAAAAAAAAhGP0MAAAAAAAAAAAAAAAAAAAAACEZRAAAAAAAAAAAISNEAAAAAAAAAAAhJP0MAAAAAAAAAAAAAAAAAAAAACEa/QwAAAAAAAAAAAAAAAAAAAAAIRtEAAAAAAAAAAAhJUQAAAAAAAAAACEm/QwAAAAAAAAAAAAAAAAAAAAAIRxBACEJAkADQCAJIBBPDQEgCiAJav0ABAAhHCALIAlq/QAEACEdIAwgCWr9AAQAIR4gFCAcIB798gH98AEhFCAVIB0gHv3yAf3wASEVIA0gCWr9AAQAIR4gFiAcIB798gH98AEhFiAXIB0gHv3yAf3wASEXIA4gCWr9AAQAIR4gGCAcIB798gH98AEhGCAZIB0gHv3yAf3wASEZIA8gCWr9AAQAIR4gGiAcIB798gH98AEhGiAbIB0gHv3yAf3wASEbIAlBEGohCQwACwsgCSATSQRAIAogCWorAwAgDCAJaisDAKIhHyALIAlqKwMAIAwgCWorAwCiISAgCiAJaisDACANIAlqKwMAoiEhIAsgCWorAwAgDSAJaisDAKIhIiAKIAlqKwMAIA4gCWorAwCiISMgCyAJaisDACAOIAlqKwMAoiEkIAogCWorAwAgDyAJaisDAKIhJSALIAlqKwMAIA8gCWorAwCiISYLIAIgByAEbCAIakEDdGohESARIARBA3RqIRIgEUEAaiARQQBqKwMARAAAAAAAAAAAIAYbIBT9IQAgFP0hAaAgH6CgOQMAIBJBAGogEkEAaisDAEQAAAAAAAAAACAGGyAV/SEAIBX9IQGgICCgoDkDACARQQhqIBFBCGorAwBEAAAAAAAAAAAgBhsgFv0hACAW/SEBoCAhoKA5AwAgEkEIaiASQQhqKwMARAAAAAAAAAAAIAYbIBf9IQAgF/0hAaAgIqCgOQMAIBFBEGogEUEQaisDAEQAAAAAAAAAACAGGyAY/SEAIBj9IQGgICOgoDkDACASQRBqIBJBEGorAwBEAAAAAAAAAAAgBhsgGf0hACAZ/SEBoCAkoKA5AwAgEUEYaiARQRhqKwMARAAAAAAAAAAAIAYbIBr9IQAgGv0hAaAgJaCgOQMAIBJBGGogEkEYaisDAEQAAAAAAAAAACAGGyAb/SEAIBv9IQGgICagoDkDACAIQQRqIQgMAAsLIAdBAmohBwwACwsL";
  const wasm = (() => {
    try {
      const bytes = Uint8Array.from(atob(WASM_PRODUCT), (c) => c.charCodeAt(0));
      const { gemm, mem } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports;
      return { gemm, mem };
    } catch {
      return null;
    }
  })();
  const WASM_LIMIT = 1 << 28;  // bytes of A, B and C together; larger products stay in JS

  function productWasm(A, B, C, m, n, k, add) {
    const m2 = m - (m % 2), n4 = n - (n % 4), needed = 8 * (m * k + n * k + m * n);
    if (needed > wasm.mem.buffer.byteLength) wasm.mem.grow(Math.ceil((needed - wasm.mem.buffer.byteLength) / 65536));
    const memory = new Float64Array(wasm.mem.buffer), b = m * k, c = b + n * k;
    memory.set(A, 0);
    memory.set(B, b);
    if (add) memory.set(C, c);
    wasm.gemm(0, 8 * b, 8 * c, m2, n, k, add ? 1 : 0);  // whole 2 x 4 blocks: rows < m2, columns < n4
    C.set(memory.subarray(c, c + m2 * n));
    return productJS(A, B, C, m, n, k, add, m2, n4);  // the columns past n4 of those rows, and an odd last row
  }

  let useWasm = true;  // the tests compare both
  function productNT(A, B, C, m, n, k, add = false) {
    const blocks = m >= 2 && n >= 4 && 8 * (m * k + n * k + m * n) <= WASM_LIMIT;
    return wasm && useWasm && blocks ? productWasm(A, B, C, m, n, k, add) : productJS(A, B, C, m, n, k, add);
  }

  // rows x cols -> cols x rows
  function transpose(X, rows, cols, into = new Float64Array(rows * cols)) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) into[c * rows + r] = X[r * cols + c];
    return into;
  }

  function parameter(name, values, shape) {
    return { name, shape, value: Float64Array.from(values), grad: new Float64Array(values.length) };
  }

  // ----- the operations: forward(x) keeps what backward(dy) needs; backward adds into the parameters' grads -----
  // A convolution as a matrix product over the whole batch (im2col): every output pixel of every image gets a row
  // of `cols` holding its window (cin k k numbers, zero where it reaches into the padding). backward(dy, first)
  // skips the input's gradient for the first layer, which nothing reads.
  function convLayer(op, name) {
    const [cout, cin, k] = op.w.shape, s = op.stride, p = op.padding, rows = cin * k * k;
    const weight = parameter(`${name}.weight`, op.w.values, op.w.shape);
    const bias = parameter(`${name}.bias`, op.b.values, op.b.shape);
    let shape = null, cols = null, oh = 0, ow = 0, offsets = null, offsetsFor = "";

    // For every output pixel j (over the batch) and window position r, the input pixel read: offsets[j rows + r],
    // -1 in the padding. Computed once per batch shape.
    function windowOffsets(n, h, w) {
      const key = `${n}x${h}x${w}`;
      if (key === offsetsFor) return offsets;
      offsets = new Int32Array(n * oh * ow * rows);
      let at = 0;
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            for (let ci = 0; ci < cin; ci++) {
              for (let ky = 0; ky < k; ky++) {
                const iy = oy * s + ky - p;
                for (let kx = 0; kx < k; kx++) {
                  const ix = ox * s + kx - p;
                  offsets[at++] = iy >= 0 && iy < h && ix >= 0 && ix < w ? ((b * cin + ci) * h + iy) * w + ix : -1;
                }
              }
            }
          }
        }
      }
      offsetsFor = key;
      return offsets;
    }

    return {
      op: "conv", params: [weight, bias],
      forward(input) {
        shape = input.shape;
        const [n, , h, w] = shape;
        oh = Math.floor((h + 2 * p - k) / s) + 1;
        ow = Math.floor((w + 2 * p - k) / s) + 1;
        const area = oh * ow, width = n * area, X = input.data, at = windowOffsets(n, h, w);
        cols = new Float64Array(width * rows);
        for (let i = 0; i < cols.length; i++) cols[i] = at[i] >= 0 ? X[at[i]] : 0;
        const maps = productNT(weight.value, cols, new Float64Array(cout * width), cout, width, rows);
        const out = tensor([n, cout, oh, ow]), Y = out.data, B = bias.value;
        for (let b = 0; b < n; b++) {
          for (let co = 0; co < cout; co++) {
            const from = co * width + b * area, to = (b * cout + co) * area;
            for (let a = 0; a < area; a++) Y[to + a] = maps[from + a] + B[co];
          }
        }
        return out;
      },
      backward(dy, first = false) {
        const [n] = shape, area = oh * ow, width = n * area, DY = dy.data, g = new Float64Array(cout * width);
        for (let b = 0; b < n; b++) {  // dy as cout x width, the layout of the forward product
          for (let co = 0; co < cout; co++) g.set(DY.subarray((b * cout + co) * area, (b * cout + co + 1) * area), co * width + b * area);
        }
        for (let co = 0; co < cout; co++) {
          let total = 0;
          for (let j = co * width; j < (co + 1) * width; j++) total += g[j];
          bias.grad[co] += total;
        }
        productNT(g, transpose(cols, width, rows), weight.grad, cout, rows, width, true);
        if (first) return null;
        const dcols = productNT(transpose(g, cout, width), transpose(weight.value, cout, rows), new Float64Array(width * rows),
                                width, rows, cout);
        const dx = tensor(shape), DX = dx.data, at = offsets;  // col2im: each window's gradient onto its pixels
        for (let i = 0; i < dcols.length; i++) if (at[i] >= 0) DX[at[i]] += dcols[i];
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
        const n = input.shape[0], out = tensor([n, nout]), Y = out.data, B = bias.value;
        productNT(input.data, weight.value, Y, n, nout, nin);
        for (let b = 0; b < n; b++) for (let o = 0; o < nout; o++) Y[b * nout + o] += B[o];
        return out;
      },
      backward(dy) {
        const n = x.shape[0], DY = dy.data;
        for (let b = 0; b < n; b++) for (let o = 0; o < nout; o++) bias.grad[o] += DY[b * nout + o];
        productNT(transpose(DY, n, nout), transpose(x.data, n, nin), weight.grad, nout, nin, n, true);
        const dx = tensor(x.shape);
        productNT(DY, transpose(weight.value, nout, nin), dx.data, n, nin, nout);
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
    if (!(op.fn in ACTIVATIONS)) throw { key: "lab.unsupported", values: { what: op.fn } };
    const [f, derivative] = ACTIVATIONS[op.fn](op);
    let x = null, y = null;
    return {
      op: "act", params: [],
      forward(input) {
        x = input;
        y = tensor(input.shape);
        const X = x.data, Y = y.data;
        for (let i = 0; i < X.length; i++) Y[i] = f(X[i]);
        return y;
      },
      backward(dy) {
        const dx = tensor(x.shape), X = x.data, Y = y.data, DX = dx.data, DY = dy.data;
        for (let i = 0; i < DX.length; i++) DX[i] = DY[i] * derivative(X[i], Y[i]);
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

  // A graph's operations as layers, its weights copied (the graph is left as it was). What a browser cannot
  // train is refused: the 1998 RBF output and its MAP loss, batch norm folded into a convolution, a layer
  // without bias.
  function build(graph) {
    const layers = [];
    for (const stage of graph.stages) {
      const weighted = stage.ops.filter((o) => o.weight).length;
      stage.ops.forEach((op, i) => {
        const name = weighted > 1 ? `${stage.name}.${i}` : stage.name;
        if (op.batch_norm_folded) throw { key: "lab.unsupported", values: { what: "batch_norm" } };
        if (op.weight && !op.bias) throw { key: "lab.unsupported", values: { what: `${op.op} without bias` } };
        if (op.op === "conv") layers.push(convLayer(op, name));
        else if (op.op === "linear") layers.push(linearLayer(op, name));
        else if (op.op === "pool") layers.push(poolLayer(op));
        else if (op.op === "act") layers.push(activationLayer(op));
        else if (op.op === "flatten") layers.push(flattenLayer());
        else throw { key: "lab.unsupported", values: { what: op.op } };
      });
    }
    return { graph, layers, params: layers.flatMap((l) => l.params), input: graph.input };
  }

  // `simd(false)`: the products in JS only (a test's yardstick); `simd()`: whether WebAssembly SIMD runs them.
  const simd = (on) => { if (on !== undefined) useWasm = on; return Boolean(wasm) && useWasm; };
  return { build, productNT, productJS, simd, transpose, tensor };
})();

if (typeof module !== "undefined") module.exports = Layers;
