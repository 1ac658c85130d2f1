// eslint (flat config; CI: .ci/run): the page's plain scripts, each one namespace (src/lenetlab/web/static, see
// app.js's header), and the node tests of the scripts that also run under node (tests/js). A script names the namespaces it uses in its
// `/* global ... */` comment and the one it defines in `/* exported ... */`: no-undef and no-unused-vars check both.
"use strict";

const js = require("@eslint/js");
const globals = require("globals");

const rules = {
  "no-undef": "error",
  "no-unused-vars": "error",
  "prefer-const": "error",
  "no-var": "error",
  eqeqeq: ["error", "always", { null: "ignore" }],  // `x == null` means null or undefined, on purpose
};

module.exports = [
  js.configs.recommended,
  {
    files: ["src/lenetlab/web/static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.browser } },
    rules,
  },
  {
    files: ["lenet.js", "mnist.js", "layers.js", "networks.js", "trainer.js", "gpu_kernels.js", "gpu.js", "lab_worker.js"]
      .map((name) => `src/lenetlab/web/static/${name}`),  // also CommonJS under node (tests/js)
    languageOptions: { globals: { module: "writable", require: "readonly" } },
  },
  {
    files: ["tests/js/**/*.js", "scripts/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "commonjs", globals: { ...globals.node } },
    rules,
  },
];
