// gpu.js: the page's training step on the graphics card (WebGPU), where the browser has one. The same network as
// layers.js (a lenetlab graph), the same loss, optimizer and shift as trainer.js, in float32 as PyTorch's: every
// operation is a WGSL kernel written for the layer's own sizes, and a whole step (the batch gathered and shifted,
// forward, loss, backward, SGD) is one submission with no read-back. The worker reads the loss a few times a
// second and the weights once an epoch, into the CPU network, which evaluates and exports them (trainer.js).
// Checked against PyTorch in real Chromium (tests/test_webgpu.py: SwiftShader's software adapter); the page uses
// it by itself only on a real adapter (`open`), since the software one runs slower than the CPU engine.
"use strict";

/* global GpuKernels */

const GpuEngine = (() => {
  const kernels = typeof module !== "undefined" ? require("./gpu_kernels.js") : GpuKernels;
  const { GROUP, ROW, gather, convKernels, linearKernels, poolKernels, activationKernels, loss, tally, sgd } = kernels;

  // The adapter, or null: no WebGPU, no adapter, or only a software one unless `allowFallback`.
  async function adapter({ allowFallback = false } = {}) {
    if (typeof navigator === "undefined" || !navigator.gpu) return null;
    const found = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!found) return null;
    const fallback = Boolean(found.isFallbackAdapter ?? found.info?.isFallbackAdapter);
    if (fallback && !allowFallback) return null;
    const info = found.info ?? {};
    return { found, fallback, name: [info.vendor, info.architecture || info.device].filter(Boolean).join(" ") };
  }

  // ----- the network on the device -----
  // `net`: Trainer.build's (its graph and float64 parameters: the start, and where `readWeights` puts the end);
  // `images`: the uint8 training images (n x side x side); `batchSize`: the largest batch a step gets.
  // Null when there is no adapter (or only a software one, unless `allowFallback`); throws { key: "lab.gpu_failed" }
  // when the card is there but the network cannot be set up on it (a limit, memory, a kernel it refuses).
  async function open(net, images, options = {}) {
    const found = await adapter({ allowFallback: options.allowFallback });
    if (!found) return null;
    const device = await found.found.requestDevice({
      requiredLimits: { maxStorageBufferBindingSize: found.found.limits.maxStorageBufferBindingSize,
                        maxBufferSize: found.found.limits.maxBufferSize },
    });
    try {
      device.pushErrorScope("out-of-memory");
      device.pushErrorScope("validation");
      const engine = engineOn(device, found, net, images, options);
      const problem = (await device.popErrorScope()) ?? (await device.popErrorScope());
      if (problem) throw failed(problem.message);
      await device.queue.onSubmittedWorkDone();
      return engine;
    } catch (error) {
      device.destroy();
      throw error.key ? error : failed(String(error.message ?? error));
    }
  }

  const failed = (reason) => ({ key: "lab.gpu_failed", values: { reason } });

  // The network set up on `device`: its buffers, kernels and dispatches; what the worker calls.
  function engineOn(device, found, net, images, { batchSize, momentum = 0.9, nesterov = true, weightDecay = 0,
                                                  smoothing = 0 }) {
    let trouble = null;  // what went wrong on the card since, said at the next read
    device.onuncapturederror = (event) => { trouble ??= event.error.message; };
    device.lost.then((info) => { if (info.reason !== "destroyed") trouble ??= info.message || "device lost"; });
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buffer = (bytes, usage = STORAGE) => device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
    const floats = (count) => buffer(4 * count);

    // The parameters as one float32 array in the CPU network's order (weight, bias, per weighted layer).
    const offsets = [];
    let count = 0;
    for (const p of net.params) { offsets.push(count); count += p.value.length; }
    const params = floats(count), grads = floats(count), moments = floats(count);
    const start = new Float32Array(count);
    net.params.forEach((p, j) => start.set(p.value, offsets[j]));
    device.queue.writeBuffer(params, 0, start);

    // Images as uint8 on the device, four pixels a word (WGSL has no 8-bit type).
    const upload = (pixels) => {
      const words = new Uint32Array(Math.ceil(pixels.length / 4)), stored = buffer(words.byteLength);
      new Uint8Array(words.buffer).set(pixels);
      device.queue.writeBuffer(stored, 0, words);
      return stored;
    };
    const side = net.input[1], store = upload(images);
    let evaluation = null;  // the evaluated images' store and gather
    const batch = buffer(16 * batchSize), uniform = buffer(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const each = floats(2 * batchSize), totals = floats(4);

    // Each kernel's bindings laid out from its declarations (a layout of its own would drop a buffer the compiler
    // finds unused, e.g. tanh's derivative reads only the output).
    const pipelines = new Map();
    const pipeline = (code) => {
      if (!pipelines.has(code)) {
        const entries = [...code.matchAll(/@binding\((\d+)\) var<(uniform|storage, read_write|storage, read)>/g)].map(
          ([, binding, kind]) => ({ binding: Number(binding), visibility: GPUShaderStage.COMPUTE,
                                    buffer: { type: { uniform: "uniform", "storage, read": "read-only-storage" }[kind] ?? "storage" } }));
        const layout = device.createBindGroupLayout({ entries });
        pipelines.set(code, { layout, pipeline: device.createComputePipeline({
          layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
          compute: { module: device.createShaderModule({ code }), entryPoint: "main" } }) });
      }
      return pipelines.get(code);
    };
    // A dispatch: the kernel, its buffers in binding order, and how many workgroups.
    const job = (code, bound, groups, label) => {
      const { layout, pipeline: p } = pipeline(code);
      const entries = [uniform, ...bound].map((b, i) => ({ binding: i, resource: { buffer: b } }));
      return { label, pipeline: p, bindGroup: device.createBindGroup({ layout, entries }),
               groups: [Math.min(groups, ROW), Math.ceil(groups / ROW)] };
    };
    const threads = (n) => Math.ceil(n / GROUP);

    // Walk the graph as layers.js does: each operation's output (and its gradient) a buffer of batchSize samples.
    const forward = [], backward = [];
    let shape = [...net.input], x = floats(batchSize * size(shape)), dx = null;
    const input = x;
    forward.push(job(gather(side), [store, batch, x], threads(batchSize * size(shape)), "batch"));
    let weighted = 0;
    const ops = net.graph.stages.flatMap((stage) => stage.ops.map((op) => ({ op, name: stage.name })));
    for (const { op, name } of ops) {
      const first = dx === null;  // the input's gradient: nothing reads it
      if (op.op === "flatten") { shape = [size(shape)]; continue; }  // the same numbers in the same order
      let out;
      if (op.op === "conv") {
        const [co, ci, k] = op.w.shape, [, h, wd] = shape, s = op.stride, p = op.padding;
        const g = { batchSize, ci, h, wd, co, k, s, p, oh: Math.floor((h + 2 * p - k) / s) + 1, ow: Math.floor((wd + 2 * p - k) / s) + 1 };
        out = [co, g.oh, g.ow];
        const code = convKernels(g, offsets[weighted], offsets[weighted + 1]);
        weighted += 2;
        const y = floats(batchSize * size(out)), dy = floats(batchSize * size(out));
        forward.push(job(code.forward, [x, params, y], threads(batchSize * size(out)), `${name} forward`));
        const steps = [job(code.parameters, [x, dy, grads], code.groups, `${name} weights' gradient`)];
        if (!first) steps.push(job(code.input, [dy, params, dx], threads(batchSize * size(shape)), `${name} input's gradient`));
        backward.unshift(...steps);
        x = y; dx = dy;
      } else if (op.op === "linear") {
        const [nout, nin] = op.w.shape;
        out = [nout];
        const code = linearKernels({ nin, nout }, offsets[weighted], offsets[weighted + 1]);
        weighted += 2;
        const y = floats(batchSize * nout), dy = floats(batchSize * nout);
        forward.push(job(code.forward, [x, params, y], threads(batchSize * nout), `${name} forward`));
        const steps = [job(code.parameters, [x, dy, grads], threads(code.size), `${name} weights' gradient`)];
        if (!first) steps.push(job(code.input, [dy, params, dx], threads(batchSize * nin), `${name} input's gradient`));
        backward.unshift(...steps);
        x = y; dx = dy;
      } else if (op.op === "pool") {
        const [c, h, wd] = shape, k = op.size, s = op.stride;
        const g = { c, h, wd, k, s, oh: Math.floor((h - k) / s) + 1, ow: Math.floor((wd - k) / s) + 1, max: op.kind === "max" };
        out = [c, g.oh, g.ow];
        const code = poolKernels(g), y = floats(batchSize * size(out)), dy = floats(batchSize * size(out));
        const winners = g.max ? [floats(batchSize * size(out))] : [];  // where each maximum was
        forward.push(job(code.forward, [x, y, ...winners], threads(batchSize * size(out)), `${name} forward`));
        if (!first) backward.unshift(job(code.input, [dy, ...winners, dx], threads(batchSize * size(shape)), `${name} backward`));
        x = y; dx = dy;
      } else if (op.op === "act") {
        const code = activationKernels(op, size(shape)), y = floats(batchSize * size(shape)), dy = floats(batchSize * size(shape));
        out = shape;
        forward.push(job(code.forward, [x, y], threads(batchSize * size(shape)), `${name} ${op.fn}`));
        if (!first) backward.unshift(job(code.input, [x, y, dy, dx], threads(batchSize * size(shape)), `${name} ${op.fn} backward`));
        x = y; dx = dy;
      } else {
        throw { key: "lab.unsupported", values: { what: op.op } };
      }
      shape = out;
    }
    const classes = shape[0], logits = x, dlogits = dx;
    const scoring = [job(loss(classes, smoothing), [logits, batch, dlogits, each], threads(batchSize), "loss"),
                     job(tally, [each, totals], 1, "loss total")];
    const update = job(sgd(count, { momentum, nesterov, weightDecay }), [params, grads, moments], threads(count), "SGD");

    function encode(jobs) {
      const encoder = device.createCommandEncoder(), pass = encoder.beginComputePass();
      for (const j of jobs) {
        pass.setPipeline(j.pipeline);
        pass.setBindGroup(0, j.bindGroup);
        pass.dispatchWorkgroups(...j.groups);
      }
      pass.end();
      return encoder;
    }

    async function read(source, bytes) {
      const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(source, 0, staging, 0, bytes);
      device.queue.submit([encoder.finish()]);
      try {
        await staging.mapAsync(GPUMapMode.READ);
      } catch (error) {
        throw failed(trouble ?? String(error.message ?? error));
      }
      const values = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      staging.destroy();
      if (trouble) throw failed(trouble);
      return values;
    }

    let first = true;
    return {
      name: found.name, fallback: found.fallback,
      // One step on the images at `indices` (into the store) with `labels` and per-image shifts `dys`, `dxs`;
      // with `lr` null, the gradients only (no update). Queued: nothing waits for the device.
      step({ indices, labels, dys, dxs, lr = null }) {
        const n = indices.length, data = new Int32Array(4 * n);
        data.set(indices, 0); data.set(labels, n);
        if (dys) data.set(dys, 2 * n);
        if (dxs) data.set(dxs, 3 * n);
        device.queue.writeBuffer(batch, 0, data);
        device.queue.writeBuffer(uniform, 0, new Uint32Array([n, 0, first && lr !== null ? 1 : 0, 0]));
        device.queue.writeBuffer(uniform, 4, new Float32Array([lr ?? 0]));
        device.queue.submit([encode([...forward, ...scoring, ...backward, ...(lr === null ? [] : [update])]).finish()]);
        if (lr !== null) first = false;
      },
      // The last step's mean loss and, since `resetTotals`, the sum of the losses, the right answers, the images.
      async totals() {
        const [last, lossSum, correct, seen] = await read(totals, 16);
        return { last, lossSum, correct, seen };
      },
      resetTotals() { device.queue.writeBuffer(totals, 0, new Float32Array(4)); },
      // The logits of every image of `images` (uint8, n x side x side) by the network as it is now, unshifted,
      // in batches through the training step's forward kernels: n x classes float32 numbers.
      async logits(images) {
        const n = images.length / size(net.input), all = floats(n * classes);
        if (!evaluation || evaluation.images !== images) {
          if (evaluation) evaluation.store.destroy();
          const store = upload(images);
          evaluation = { images, store, gather: job(gather(side), [store, batch, input], threads(batchSize * size(net.input)), "batch") };
        }
        for (let from = 0; from < n; from += batchSize) {
          const count = Math.min(batchSize, n - from), data = new Int32Array(4 * count);
          for (let b = 0; b < count; b++) data[b] = from + b;
          device.queue.writeBuffer(batch, 0, data);
          device.queue.writeBuffer(uniform, 0, new Uint32Array([count, 0, 0, 0]));
          const encoder = encode([evaluation.gather, ...forward.slice(1)]);
          encoder.copyBufferToBuffer(logits, 0, all, 4 * from * classes, 4 * count * classes);
          device.queue.submit([encoder.finish()]);
        }
        const values = await read(all, 4 * n * classes);
        all.destroy();
        return values;
      },
      // The device's weights (or gradients) into the CPU network's parameters (or grads).
      async readWeights() { spread(await read(params, 4 * count), "value"); },
      async readGradients() { spread(await read(grads, 4 * count), "grad"); },
      async readInput(n) { return read(input, 4 * n * size(net.input)); },
      // Milliseconds per kernel of a step (each alone, `repeats` times, after one step): where the time goes.
      async profile(repeats = 5) {
        const times = [];
        for (const j of [...forward, ...scoring, ...backward, update]) {
          await device.queue.onSubmittedWorkDone();
          const started = performance.now();
          for (let r = 0; r < repeats; r++) device.queue.submit([encode([j]).finish()]);
          await device.queue.onSubmittedWorkDone();
          times.push([j.label, (performance.now() - started) / repeats]);
        }
        return times;
      },
      destroy() { device.destroy(); },
    };

    function spread(values, field) {
      net.params.forEach((p, j) => p[field].set(values.subarray(offsets[j], offsets[j] + p.value.length)));
    }
  }

  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  return { adapter, open };
})();

if (typeof module !== "undefined") module.exports = GpuEngine;
