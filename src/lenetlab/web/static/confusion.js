// The confusion matrix (served page): click a cell, see its test images; click one, open it in the drawing panel.
// Served with two runs or more, two runs' matrices side by side and their difference B − A (diverging colours,
// signed counts); a click on a cell of either drills down into that run.
"use strict";
/* global LeNetApp, Drawing */
/* exported Confusion */

const Confusion = (() => {
  const { state, api, t, fmtInt, fmtPercent, el, grayImage } = LeNetApp;

  // A matrix as a table: `shade(i, j, value)` -> [background, dark], `label(value)` its text, `open(i, j)` a click.
  function confusionTable(matrix, names, { shade, label = fmtInt, open = null, className = "confusion" }) {
    const tbl = document.createElement("table");
    tbl.className = className;
    const head = tbl.insertRow();
    head.insertCell().textContent = `${t("conf.true")} \\ ${t("conf.predicted")}`;
    names.forEach((name) => { head.insertCell().textContent = name; });
    matrix.forEach((row, i) => {
      const tr = tbl.insertRow();
      tr.insertCell().textContent = names[i];
      row.forEach((value, j) => {
        const td = tr.insertCell();
        td.textContent = label(value);
        Object.assign(td.dataset, { true: String(i), predicted: String(j), value: String(value) });
        const [background, dark] = shade(i, j, value);
        td.style.background = background;
        if (dark) td.style.color = "#fff";
        if (open && value) td.addEventListener("click", () => open(i, j));
        else td.classList.add("still");
      });
    });
    return tbl;
  }

  // Counts: green on the diagonal (right answers), red elsewhere (mistakes), darker for more (log scale).
  function countShade(peak) {
    return (i, j, count) => {
      const alpha = count ? 0.12 + 0.88 * Math.log1p(count) / Math.log1p(peak) : 0;
      return [i === j ? `rgba(26, 127, 55, ${alpha})` : `rgba(207, 34, 46, ${alpha})`, alpha > 0.55];
    };
  }

  async function load() {
    const response = await fetch(api("/api/confusion"));
    if (!response.ok) return;
    const c = await response.json();
    if (state.runs.length > 1) setUpComparison();
    if (c.epoch === state.confusionEpoch) return;
    state.confusionEpoch = c.epoch;
    const box = document.getElementById("confusion");
    box.innerHTML = "";
    box.appendChild(confusionTable(c.matrix, c.class_names, { shade: countShade(Math.max(...c.matrix.flat())),
                                                              open: (i, j) => openCell(i, j) }));
    // Per-class accuracy as bars; a click lists the class's misclassified images (what pulls it down).
    const bars = document.getElementById("class-bars");
    bars.innerHTML = "";
    c.matrix.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0), accuracy = total ? row[i] / total : 0;
      const label = document.createElement("div");
      label.textContent = c.class_names[i];
      const track = document.createElement("div");
      track.className = "bar-track";
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = `${(100 * accuracy).toFixed(2)}%`;
      track.appendChild(fill);
      const value = document.createElement("div");
      value.className = "bar-value";
      value.textContent = fmtPercent(accuracy, 2);
      for (const el of [label, track, value]) {
        el.dataset.class = String(i);
        el.addEventListener("click", () => openCell(i, null));
        bars.appendChild(el);
      }
    });
    document.getElementById("confusion-panel").hidden = false;
    if (document.getElementById("compare-toggle").checked) showComparison();
  }

  async function openCell(trueClass, predicted, run = state.run) {  // predicted null: every misclassified image of the class
    const which = predicted === null ? "" : `&predicted=${predicted}`;
    const response = await fetch(`/api/cell?true=${trueClass}${which}&limit=200&run=${run}`);
    const cell = await response.json();
    if (!response.ok) { el.status.textContent = cell.error || t("page.error", { status: response.status }); return; }
    const title = document.getElementById("cell-title");
    const what = (predicted === null
      ? t("conf.class_wrong", { true: state.classNames[trueClass], count: fmtInt(cell.count) })
      : t("conf.true_pred", { true: state.classNames[trueClass], predicted: state.classNames[predicted], count: fmtInt(cell.count) }))
      + (cell.images.length < cell.count ? ` ${t("conf.shown", { n: cell.images.length })}` : "");
    // Side by side, say which run's images these are.
    title.textContent = comparing() ? t("conf.of_run", { run: state.runs[run].name, cell: what }) : what;
    const box = document.getElementById("cell-images");
    box.innerHTML = "";
    box.dataset.count = String(cell.count);
    box.dataset.cell = predicted === null ? `${trueClass},wrong` : `${trueClass},${predicted}`;
    box.dataset.run = String(run);
    for (const item of cell.images) {
      const cv = document.createElement("canvas");
      cv.width = 28; cv.height = 28;
      cv.className = trueClass === item.predicted ? "sample right" : "sample wrong";
      cv.title = t("conf.image_title", { index: item.index, confidence: fmtPercent(item.confidence) });
      cv.dataset.index = String(item.index);
      grayImage(cv, item.image, 0, 255);
      cv.addEventListener("click", () => Drawing.showSample({ index: item.index, label: trueClass, predicted: item.predicted,
                                                              image: item.image }));
      box.appendChild(cv);
    }
  }

  // ----- two runs side by side (lenetlab serve RUN1 RUN2 ...) -----
  const comparing = () => state.runs.length > 1 && document.getElementById("compare-toggle").checked;

  function setUpComparison() {
    const controls = document.getElementById("compare-controls");
    if (!controls.hidden) return;
    for (const [id, chosen] of [["compare-a", 0], ["compare-b", 1]]) {
      const select = document.getElementById(id);
      for (const r of state.runs) {
        const option = document.createElement("option");
        option.value = String(r.run);
        option.textContent = r.name;
        select.appendChild(option);
      }
      select.value = String(chosen);
      select.addEventListener("change", showComparison);
    }
    document.getElementById("compare-toggle").addEventListener("change", showComparison);
    controls.hidden = false;
  }

  async function showComparison() {
    const on = comparing(), box = document.getElementById("compare");
    document.getElementById("confusion-single").hidden = on;
    box.hidden = !on;
    if (!on) { delete box.dataset.runs; return; }
    const mine = ++state.comparison;
    const a = Number(document.getElementById("compare-a").value), b = Number(document.getElementById("compare-b").value);
    const answers = await Promise.all([a, b].map((k) => fetch(`/api/confusion?run=${k}`)));
    const [A, B] = await Promise.all(answers.map((r) => r.json()));
    if (mine !== state.comparison) return;
    box.innerHTML = "";
    if (!answers.every((r) => r.ok)) { box.textContent = A.error || B.error; return; }
    const peak = Math.max(...A.matrix.flat(), ...B.matrix.flat());  // one scale for both, so shades compare
    const figure = (caption, matrixTable, name) => {
      const fig = document.createElement("figure");
      fig.dataset.matrix = name;
      const cap = document.createElement("figcaption");
      cap.textContent = caption;
      fig.append(cap, matrixTable);
      box.appendChild(fig);
    };
    for (const [which, k, c] of [["A", a, A], ["B", b, B]]) {
      figure(t("conf.matrix_of", { which, run: state.runs[k].name, accuracy: fmtPercent(c.accuracy, 2) }),
             confusionTable(c.matrix, c.class_names, { shade: countShade(peak), open: (i, j) => openCell(i, j, k),
                                                       className: "confusion compact" }), which);
    }
    // B − A, cell by cell: red where B has more images, blue where it has fewer, darker for larger changes.
    const diff = B.matrix.map((row, i) => row.map((v, j) => v - A.matrix[i][j]));
    const largest = Math.max(1, ...diff.flat().map(Math.abs));
    const right = diff.reduce((sum, row, i) => sum + row[i], 0);
    const signed = (v) => (v > 0 ? `+${fmtInt(v)}` : v < 0 ? `\u2212${fmtInt(-v)}` : "0");
    figure(t("conf.difference", { right: signed(right) }), confusionTable(diff, A.class_names, {
      label: signed, className: "confusion compact difference",
      shade: (i, j, v) => {
        const alpha = v ? 0.15 + 0.85 * Math.abs(v) / largest : 0;
        return [v > 0 ? `rgba(207, 34, 46, ${alpha})` : `rgba(9, 105, 218, ${alpha})`, alpha > 0.6];
      } }), "difference");
    const note = document.createElement("p");
    note.className = "muted compare-note";
    note.textContent = t("conf.difference_note");
    box.appendChild(note);
    box.dataset.runs = `${a},${b}`;
  }

  return { load };
})();
