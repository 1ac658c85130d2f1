// The shape calculator (LeNet-5 and its variants): change an argument, see every layer's output shape, parameters
// and multiply-adds (LeNet.lenet5Shapes, lenetlab.models.lenet.LeNet5's rules). It starts from the model's own
// arguments, defaults applied, as the graph sends them (lenetlab/graph.py: model_graph): no default is written
// here.
"use strict";
/* global LeNet, LeNetApp */
/* exported Calculator */

const Calculator = (() => {
  const { MESSAGES, t, fmt, fmtInt, layerLabel, table } = LeNetApp;
  const FIELDS = ["c1_channels", "c3_channels", "c5_channels", "f6_units", "kernel_size", "stride", "padding",
                  "pool_size"];

  // `model`: /api/model's answer (or the exported page's); `graph`: its graph, null when the page has none.
  function setUp(model, graph) {
    const form = document.getElementById("calc-form");
    form.innerHTML = "";
    document.getElementById("calculator").hidden = true;
    if (!model.name.startsWith("lenet5") || model.name === "lenet5-1998" || !graph || !graph.arguments) return;
    const modelArguments = graph.arguments;
    for (const name of FIELDS) {
      const label = document.createElement("label");
      // the argument in words (« remplissage »), then its --arch name in small code (padding)
      const words = MESSAGES[`setting.${name}`], caption = document.createElement("span");
      caption.textContent = words && words !== name ? `${words} ` : "";
      const code = document.createElement("code");
      code.textContent = name;
      caption.appendChild(code);
      label.appendChild(caption);
      const input = document.createElement("input");
      input.type = "number";
      input.name = name;
      input.value = String(modelArguments[name]);
      input.addEventListener("input", () => update(model.name, modelArguments));
      label.appendChild(input);
      form.appendChild(label);
    }
    document.getElementById("calculator").hidden = false;
    update(model.name, modelArguments);
  }

  // The model's arguments, those of the form as the reader changed them.
  function chosenArguments(modelArguments) {
    const args = { ...modelArguments };
    for (const input of document.querySelectorAll("#calc-form input")) args[input.name] = Number(input.value);
    return args;
  }

  function update(modelName, modelArguments) {
    const error = document.getElementById("calc-error"), box = document.getElementById("calc-table");
    let shapes;
    try {
      shapes = LeNet.lenet5Shapes(chosenArguments(modelArguments));
    } catch (problem) {
      if (!problem.key) throw problem;
      const values = Object.fromEntries(Object.entries(problem.values).map(([k, v]) => [k,
        k === "layer" ? layerLabel(v) : typeof v === "number" ? fmt(v, Number.isInteger(v) ? 0 : 2) : v]));
      error.textContent = t("calc.invalid", { model: modelName, reason: t(problem.key, values) });
      error.hidden = false;
      box.innerHTML = "";
      return;
    }
    error.hidden = true;
    const rows = [[t("calc.layer"), t("calc.output"), t("calc.parameters"), t("calc.macs")]];
    for (const l of shapes.layers) rows.push([layerLabel(l.layer), l.output_shape.join("×"), fmtInt(l.parameters), fmtInt(l.macs)]);
    rows.push([t("calc.total"), "", fmtInt(shapes.total_parameters), fmtInt(shapes.total_macs)]);
    box.innerHTML = "";
    const tableEl = table(rows, "calc");
    tableEl.dataset.parameters = String(shapes.total_parameters);
    tableEl.dataset.macs = String(shapes.total_macs);
    box.appendChild(tableEl);
  }

  return { setUp };
})();
