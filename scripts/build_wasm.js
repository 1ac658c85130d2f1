// The page's WebAssembly matrix product (layers.js's productNT with f64x2 SIMD), from its text to the base64 bytes
// layers.js carries between its `WASM PRODUCT` markers. The page has no build step: run this after changing the
// text below, commit both; tests/js/trainer.test.js checks the bytes are this text's and give productNT's numbers.
//
//   node scripts/build_wasm.js            # rewrites the bytes in src/lenetlab/web/static/layers.js
//   node scripts/build_wasm.js --check    # exit 1 when layers.js's bytes are not this text's (CI)
//
// gemm(A, B, C, m, n, k, add): C[i n + j] (+)= sum over r of A[i k + r] B[j k + r], float64, for the rows and
// columns that fill whole 2 x 4 blocks (layers.js computes the rest): two rows of A against four of B, each a
// pair of lanes (f64x2) along r, eight vector sums that do not wait on each other; an odd k's last term in scalar.
"use strict";
const fs = require("node:fs"), path = require("node:path");
const wabt = require("wabt");

const LAYERS = path.join(__dirname, "..", "src", "lenetlab", "web", "static", "layers.js");
const MARKED = /(\/\/ WASM PRODUCT: scripts\/build_wasm\.js writes the next line\.\n {2}const WASM_PRODUCT = ")([A-Za-z0-9+/=]*)(";)/;

function wat() {
  const J = [0, 1, 2, 3];
  const locals = ["i", "j", "p", "a0", "a1", "b0", "b1", "b2", "b3", "kk", "o0", "o1", "kb"].map((x) => `(local $${x} i32)`).join(" ");
  const vlocals = [...J.map((j) => `(local $c0${j} v128) (local $c1${j} v128)`), "(local $x0 v128) (local $x1 v128) (local $y v128)"].join(" ");
  const tl = [...J.map((j) => `(local $t0${j} f64) (local $t1${j} f64)`)].join(" ");
  const zero = J.map((j) => `(local.set $c0${j} (v128.const f64x2 0 0)) (local.set $c1${j} (v128.const f64x2 0 0)) (local.set $t0${j} (f64.const 0)) (local.set $t1${j} (f64.const 0))`).join("\n");
  const body = J.map((j) => `(local.set $y (v128.load (i32.add (local.get $b${j}) (local.get $p))))
      (local.set $c0${j} (f64x2.add (local.get $c0${j}) (f64x2.mul (local.get $x0) (local.get $y))))
      (local.set $c1${j} (f64x2.add (local.get $c1${j}) (f64x2.mul (local.get $x1) (local.get $y))))`).join("\n");
  const tail = J.map((j) => `(local.set $t0${j} (f64.mul (f64.load (i32.add (local.get $a0) (local.get $p))) (f64.load (i32.add (local.get $b${j}) (local.get $p)))))
      (local.set $t1${j} (f64.mul (f64.load (i32.add (local.get $a1) (local.get $p))) (f64.load (i32.add (local.get $b${j}) (local.get $p)))))`).join("\n");
  const hsum = (v, t) => `(f64.add (f64.add (f64x2.extract_lane 0 (local.get ${v})) (f64x2.extract_lane 1 (local.get ${v}))) (local.get ${t}))`;
  const store = J.map((j) => `(f64.store (i32.add (local.get $o0) (i32.const ${8 * j})) (f64.add (select (f64.load (i32.add (local.get $o0) (i32.const ${8 * j}))) (f64.const 0) (local.get $add)) ${hsum(`$c0${j}`, `$t0${j}`)}))
      (f64.store (i32.add (local.get $o1) (i32.const ${8 * j})) (f64.add (select (f64.load (i32.add (local.get $o1) (i32.const ${8 * j}))) (f64.const 0) (local.get $add)) ${hsum(`$c1${j}`, `$t1${j}`)}))`).join("\n");
  return `(module (memory (export "mem") 16)
  (func (export "gemm") (param $A i32) (param $B i32) (param $C i32) (param $m i32) (param $n i32) (param $k i32) (param $add i32)
    ${locals} ${vlocals} ${tl}
    (local.set $kb (i32.shl (local.get $k) (i32.const 3)))
    (local.set $kk (i32.shl (i32.and (local.get $k) (i32.const -2)) (i32.const 3)))
    (local.set $i (i32.const 0))
    (block $done_i (loop $loop_i
      (br_if $done_i (i32.gt_s (i32.add (local.get $i) (i32.const 2)) (local.get $m)))
      (local.set $a0 (i32.add (local.get $A) (i32.mul (local.get $i) (local.get $kb))))
      (local.set $a1 (i32.add (local.get $a0) (local.get $kb)))
      (local.set $j (i32.const 0))
      (block $done_j (loop $loop_j
        (br_if $done_j (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)))
        (local.set $b0 (i32.add (local.get $B) (i32.mul (local.get $j) (local.get $kb))))
        (local.set $b1 (i32.add (local.get $b0) (local.get $kb)))
        (local.set $b2 (i32.add (local.get $b1) (local.get $kb)))
        (local.set $b3 (i32.add (local.get $b2) (local.get $kb)))
        ${zero}
        (local.set $x0 (v128.const f64x2 0 0))
        (local.set $p (i32.const 0))
        (block $done_r (loop $loop_r
          (br_if $done_r (i32.ge_u (local.get $p) (local.get $kk)))
          (local.set $x0 (v128.load (i32.add (local.get $a0) (local.get $p))))
          (local.set $x1 (v128.load (i32.add (local.get $a1) (local.get $p))))
          ${body}
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $loop_r)))
        (if (i32.lt_u (local.get $p) (local.get $kb)) (then ${tail}))
        (local.set $o0 (i32.add (local.get $C) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3))))
        (local.set $o1 (i32.add (local.get $o0) (i32.shl (local.get $n) (i32.const 3))))
        ${store}
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $loop_j)))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br $loop_i)))))`;
}


async function bytes() {
  const w = await wabt();
  const module = w.parseWat("product.wat", wat(), { simd: true });
  module.validate();
  return Buffer.from(module.toBinary({}).buffer).toString("base64");
}

if (require.main === module) {
  bytes().then((encoded) => {
    const text = fs.readFileSync(LAYERS, "utf8");
    const found = text.match(MARKED);
    if (!found) throw new Error(`${LAYERS} has no WASM PRODUCT marker`);
    if (process.argv.includes("--check")) {
      if (found[2] !== encoded) { console.error("layers.js's WebAssembly is not scripts/build_wasm.js's: run it"); process.exit(1); }
      return;
    }
    fs.writeFileSync(LAYERS, text.replace(MARKED, `$1${encoded}$3`));
    console.log(`layers.js: ${Buffer.from(encoded, "base64").length} bytes of WebAssembly`);
  });
}

module.exports = { bytes, wat };
