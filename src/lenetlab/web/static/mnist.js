// mnist.js: MNIST's preprocessing of a drawing (lenetlab/preprocess.py: mnist_preprocess), for the exported
// page's drawing pad: Pillow's and numpy's arithmetic included, so that the page's 28x28 input matches
// `lenetlab predict`'s to the last grey level. It runs under node too (module.exports below): tests/js checks it
// against mnist_preprocess (tests/test_js_units.py).
"use strict";
/* exported MnistInput */

const MnistInput = (() => {
  const INK_THRESHOLD = 0.2;

  function median(values) {
    const v = Float64Array.from(values).sort(), n = v.length;
    return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  function percentile(values, q) {  // numpy's default (linear interpolation)
    const v = Float32Array.from(values).sort(), pos = (q / 100) * (v.length - 1), lo = Math.floor(pos);
    return lo + 1 < v.length ? v[lo] + (v[lo + 1] - v[lo]) * (pos - lo) : v[lo];
  }

  function medianFilter3(img, w, h) {  // PIL's MedianFilter(3): edges replicated
    const out = new Float32Array(w * h), win = new Float32Array(9);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let n = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = Math.min(h - 1, Math.max(0, y + dy));
          for (let dx = -1; dx <= 1; dx++) win[n++] = img[yy * w + Math.min(w - 1, Math.max(0, x + dx))];
        }
        out[y * w + x] = win.sort()[4];
      }
    }
    return out;
  }

  // Pillow's Lanczos resampling of an 8-bit image, fixed-point arithmetic included (Resample.c),
  // so that the page's 28x28 input matches `lenetlab predict`'s to the last grey level.
  const PRECISION_BITS = 32 - 8 - 2;
  function lanczos(x) {
    const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t));
    return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
  }
  function coefficients(inSize, outSize) {
    const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = 3 * filterscale;
    const rows = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale, ss = 1 / filterscale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      const k = [];
      let total = 0;
      for (let x = 0; x < count; x++) { const v = lanczos((x + xmin - center + 0.5) * ss); k.push(v); total += v; }
      const fixed = k.map((v) => {
        const f = total !== 0 ? v / total : v;
        return Math.trunc(f < 0 ? -0.5 + f * 2 ** PRECISION_BITS : 0.5 + f * 2 ** PRECISION_BITS);
      });
      rows.push({ xmin, k: fixed });
    }
    return rows;
  }
  function clip8(v) {
    if (v >= 2 ** PRECISION_BITS * 256) return 255;
    if (v <= 0) return 0;
    return Math.floor(v / 2 ** PRECISION_BITS);
  }
  function resize8(src, w, h, nw, nh) {
    const horizontal = coefficients(w, nw), vertical = coefficients(h, nh);
    const tmp = new Uint8Array(nw * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < nw; x++) {
        const { xmin, k } = horizontal[x];
        let ss = 2 ** (PRECISION_BITS - 1);
        for (let i = 0; i < k.length; i++) ss += src[y * w + xmin + i] * k[i];
        tmp[y * nw + x] = clip8(ss);
      }
    }
    const out = new Uint8Array(nw * nh);
    for (let y = 0; y < nh; y++) {
      const { xmin: ymin, k } = vertical[y];
      for (let x = 0; x < nw; x++) {
        let ss = 2 ** (PRECISION_BITS - 1);
        for (let i = 0; i < k.length; i++) ss += tmp[(ymin + i) * nw + x] * k[i];
        out[y * nw + x] = clip8(ss);
      }
    }
    return out;
  }
  const roundHalfEven = (v) => {  // Python's round()
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  // numpy's sum of a contiguous array: pairwise, 8 partial sums in blocks of up to 128, each addition rounded to
  // the array's type (round: Math.fround for float32). A centre of mass on a half pixel (a symmetric stroke) then
  // rounds the way Python's does, the float32 total a hair off the exact one.
  function numpySum(a, round = (v) => v, lo = 0, n = a.length) {
    if (n < 8) {
      let res = 0;
      for (let i = lo; i < lo + n; i++) res = round(res + a[i]);
      return res;
    }
    if (n <= 128) {
      const r = a.slice(lo, lo + 8);
      let i = 8;
      for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[lo + i + j]);
      let res = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
      for (; i < n; i++) res = round(res + a[lo + i]);
      return res;
    }
    const half = Math.floor(n / 2) - (Math.floor(n / 2) % 8);
    return round(numpySum(a, round, lo, half) + numpySum(a, round, lo + half, n - half));
  }

  // RGBA pixels of any size -> 784 numbers in [0, 1] (row-major), or null when there is no ink.
  function preprocess(rgba, w, h) {
    let gray = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) {  // Pillow's RGB -> L, then / 255
      const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
      gray[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255;
    }
    const border = [];
    for (let x = 0; x < w; x++) border.push(gray[x], gray[(h - 1) * w + x]);
    for (let y = 0; y < h; y++) border.push(gray[y * w], gray[y * w + w - 1]);
    let background = median(border);
    if (background > 0.5) { gray = gray.map((v) => 1 - v); background = 1 - background; }
    let ink = gray.map((v) => Math.min(1, Math.max(0, (v - background) / Math.max(1 - background, 1e-6))));
    if (Math.min(w, h) >= 64) {
      ink = medianFilter3(ink, w, h);
      const stroke = percentile(ink, 99.9);
      ink = ink.map((v) => (v > 0.35 * stroke ? v : 0));
    }
    let top = h, bottom = -1, left = w, right = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (ink[y * w + x] > INK_THRESHOLD) {
          top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    if (bottom < 0) return null;
    const ch = bottom - top + 1, cw = right - left + 1;
    const crop = new Uint8Array(ch * cw);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) crop[y * cw + x] = Math.trunc(Math.fround(ink[(top + y) * w + left + x] * 255));
    }
    const scale = 20 / Math.max(ch, cw);
    const nh = Math.max(1, roundHalfEven(ch * scale)), nw = Math.max(1, roundHalfEven(cw * scale));
    const digit = Float32Array.from(resize8(crop, cw, ch, nw, nh), (v) => v / 255);
    // The centre of mass as numpy computes it: the total in float32, the moments in float64.
    const total = numpySum(digit, Math.fround);
    const moment = (coordinate) => numpySum(Array.from(digit, (v, i) => coordinate(i) * v));
    const comY = total > 0 ? moment((i) => Math.floor(i / nw)) / total : (nh - 1) / 2;
    const comX = total > 0 ? moment((i) => i % nw) / total : (nw - 1) / 2;
    const oy = Math.min(Math.max(roundHalfEven(14 - comY), 0), 28 - nh);
    const ox = Math.min(Math.max(roundHalfEven(14 - comX), 0), 28 - nw);
    const out = new Array(784).fill(0);
    for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) out[(oy + y) * 28 + ox + x] = digit[y * nw + x];
    const peak = Math.max(...out);
    return peak > 0 ? out.map((v) => Math.fround(v / peak)) : out;  // float32, as Python's
  }

  return { preprocess };
})();

if (typeof module !== "undefined") module.exports = MnistInput;
