// Hand-rolled SVG line charts for the loss and metric curves (no libraries: TensorBoard's CSP forbids
// remote scripts, and a few dozen lines do the job).
//
// One chart per metric; every run has its own colour, train is a solid line, validation a dashed one. A
// chart of several measures (checks.js) gives each measure a line style and a label instead of a split.
// A vertical cursor marks the epoch on show; hovering shows the values at the nearest epoch; clicking
// a point (or anywhere on the plot) picks that epoch.

const SVG = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 190;
const M = {left: 44, right: 10, top: 10, bottom: 32};

/**
 * An SVG element with attributes, appended to `parent` when given.
 * @param {string} name
 * @param {Object<string, *>} [attrs]
 * @param {Element|null} [parent]
 * @returns {SVGElement}
 */
function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/**
 * About `count` round tick values covering [lo, hi] (widened by 10% when they are equal).
 * @param {number} lo
 * @param {number} hi
 * @param {number} [count]
 * @returns {number[]}
 */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/**
 * A short label of a value: 4 significant digits, exponent form below 1e-3 and from 1e4.
 * @param {number} v
 * @returns {string}
 */
function fmt(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/**
 * One line of a chart: a run's train or validation curve of one metric.
 * @typedef {Object} ChartSeries
 * @property {string} run
 * @property {string} split  "train" (solid) or "validation" (dashed); "check" for a measure.
 * @property {'solid'|'dashed'|'dotted'} [style]  Line style of a measure (overrides the split's).
 * @property {string} [label]  What the line is, where the split does not say it (a measure's name).
 * @property {string} [tag]  The scalar tag of a measure (`data-tag`).
 * @property {string} color
 * @property {Array<[number, number]>} points  `[epoch, value]`.
 */

/**
 * The mapping of a chart's data to SVG coordinates.
 * @typedef {Object} ChartScale
 * @property {(v: number) => number} x  Epoch -> x.
 * @property {(px: number) => number} xInv  x -> epoch.
 * @property {(v: number) => number} y  Value -> y.
 * @property {number[]} steps  Every epoch with a point, sorted.
 * @property {number[]} xTicks
 * @property {number[]} yTicks
 * @property {number} pw  Plot width.
 * @property {number} ph  Plot height.
 */

/**
 * A chart's elements and what it draws now.
 * @typedef {Object} ChartParts
 * @property {HTMLElement} wrap
 * @property {SVGSVGElement} svg
 * @property {HTMLElement} tooltip
 * @property {{series: ChartSeries[], cursor: number|null}} current
 * @property {ChartScale|null} scale  null while there is nothing to draw.
 * @property {SVGLineElement|null} cursorLine
 * @property {SVGLineElement|null} hoverLine
 * @property {[number, number]|null} domain  A y range always shown, or null.
 */

/**
 * The scale of `series`, or null when they have no points. The y range is widened to round ticks, and to
 * `domain` when given (a measure in [0, 1] keeps that scale whatever its values).
 * @param {ChartSeries[]} series
 * @param {[number, number]|null} [domain]
 * @returns {ChartScale|null}
 */
export function chartScale(series, domain = null) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return null;
  const steps = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  const x0 = steps[0];
  let x1 = steps[steps.length - 1];
  if (x1 === x0) x1 = x0 + 1;
  const values = all.map((p) => p[1]).filter(Number.isFinite);
  let y0 = Math.min(...values, ...(domain ? [domain[0]] : []));
  let y1 = Math.max(...values, ...(domain ? [domain[1]] : []));
  const yTicks = niceTicks(y0, y1, 5);
  y0 = Math.min(y0, yTicks[0]);
  y1 = Math.max(y1, yTicks[yTicks.length - 1]);
  if (y1 === y0) y1 = y0 + 1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xTicks = niceTicks(x0, x1, Math.min(6, steps.length)).filter((v) => Number.isInteger(v) && v >= x0 && v <= x1);
  return {
    x: (v) => M.left + ((v - x0) / (x1 - x0)) * pw,
    xInv: (px) => x0 + ((px - M.left) / pw) * (x1 - x0),
    y: (v) => M.top + (1 - (v - y0) / (y1 - y0)) * ph,
    steps, xTicks, yTicks, pw, ph,
  };
}

/**
 * The chart's figure: caption, an optional note under it (a key), SVG and tooltip.
 * @param {string} title
 * @param {Node|null} note
 * @returns {{wrap: HTMLElement, svg: SVGSVGElement, tooltip: HTMLElement}}
 */
function chartFrame(title, note) {
  const wrap = document.createElement('figure');
  wrap.className = 'chart';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  wrap.appendChild(caption);
  if (note) wrap.appendChild(note);
  const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img'});
  svg.setAttribute('aria-label', `${title} by epoch`);
  wrap.appendChild(svg);
  const tooltip = document.createElement('div');
  tooltip.className = 'chart-tooltip';
  tooltip.hidden = true;
  wrap.appendChild(tooltip);
  return {wrap, svg, tooltip};
}

/**
 * The plot background, grid lines, ticks and the x axis label.
 * @param {SVGSVGElement} svg
 * @param {ChartScale} scale
 */
function drawAxes(svg, scale) {
  const {x, y, pw, ph} = scale;
  el('rect', {x: M.left, y: M.top, width: pw, height: ph, class: 'plot-bg'}, svg);
  const axes = el('g', {class: 'axes'}, svg);
  for (const v of scale.yTicks) {
    el('line', {x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'gridline'}, axes);
    const t = el('text', {x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick'}, axes);
    t.textContent = fmt(v);
  }
  for (const v of scale.xTicks) {
    el('line', {x1: x(v), x2: x(v), y1: H - M.bottom, y2: H - M.bottom + 4, class: 'axis'}, axes);
    const t = el('text', {x: x(v), y: H - M.bottom + 16, 'text-anchor': 'middle', class: 'tick'}, axes);
    t.textContent = String(v);
  }
  el('line', {x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: 'axis'}, axes);
  const xl = el('text', {x: M.left + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label'}, axes);
  xl.textContent = 'epoch';
}

/**
 * One polyline per series and a point (with a title, clickable) per finite value.
 * @param {SVGSVGElement} svg
 * @param {ChartSeries[]} series
 * @param {ChartScale} scale
 */
function drawSeries(svg, series, scale) {
  const {x, y} = scale;
  for (const s of series) {
    const g = el('g', {class: `series ${s.split} ${s.style || ''}`.trim(), 'data-run': s.run, 'data-split': s.split}, svg);
    if (s.tag) g.dataset.tag = s.tag;
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    el('polyline', {
      points: pts.map((p) => `${x(p[0]).toFixed(2)},${y(p[1]).toFixed(2)}`).join(' '),
      class: 'line', stroke: s.color,
    }, g);
    for (const p of pts) {
      const c = el('circle', {cx: x(p[0]).toFixed(2), cy: y(p[1]).toFixed(2), r: 3, class: 'pt', fill: s.color}, g);
      c.dataset.step = String(p[0]);
      const tip = el('title', {}, c);
      tip.textContent = `${s.run} · ${s.label || s.split} · epoch ${p[0]}: ${fmt(p[1])}`;
    }
  }
}

/**
 * Draws the chart's current series from scratch ("no data yet" without points).
 * @param {ChartParts} chart
 */
function draw(chart) {
  const {svg} = chart;
  svg.replaceChildren();
  chart.scale = chartScale(chart.current.series, chart.domain);
  if (!chart.scale) {
    const t = el('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty'}, svg);
    t.textContent = 'no data yet';
    return;
  }
  drawAxes(svg, chart.scale);
  chart.cursorLine = el('line', {y1: M.top, y2: H - M.bottom, class: 'cursor'}, svg);
  chart.hoverLine = el('line', {y1: M.top, y2: H - M.bottom, class: 'hover-line'}, svg);
  chart.hoverLine.style.display = 'none';
  drawSeries(svg, chart.current.series, chart.scale);
  placeCursor(chart);
}

/**
 * Moves the epoch cursor to `current.cursor` (hidden for none) and marks the points on it.
 * @param {ChartParts} chart
 */
function placeCursor(chart) {
  const {scale, cursorLine, current} = chart;
  if (!scale || !cursorLine) return;
  if (current.cursor === null || current.cursor === undefined) {
    cursorLine.style.display = 'none';
    return;
  }
  cursorLine.style.display = '';
  cursorLine.setAttribute('x1', scale.x(current.cursor));
  cursorLine.setAttribute('x2', scale.x(current.cursor));
  for (const c of chart.svg.querySelectorAll('circle.pt')) {
    c.classList.toggle('on-cursor', Number(c.dataset.step) === current.cursor);
  }
}

/**
 * The epoch nearest to a mouse event over the plot, or null outside it.
 * @param {ChartParts} chart
 * @param {MouseEvent} event
 * @returns {number|null}
 */
function stepFromEvent(chart, event) {
  const {svg, scale} = chart;
  if (!scale) return null;
  const pt = svg.createSVGPoint();
  pt.x = event.clientX;
  pt.y = event.clientY;
  const ctm = svg.getScreenCTM();
  if (!ctm) return null;
  const local = pt.matrixTransform(ctm.inverse());
  if (local.x < M.left - 8 || local.x > W - M.right + 8) return null;
  const target = scale.xInv(local.x);
  let best = null;
  for (const s of scale.steps) if (best === null || Math.abs(s - target) < Math.abs(best - target)) best = s;
  return best;
}

/**
 * The tooltip's rows at `step`: a heading and one row per series with a point there.
 * @param {ChartSeries[]} series
 * @param {number} step
 * @returns {HTMLElement[]}
 */
function tooltipRows(series, step) {
  const head = document.createElement('div');
  head.className = 'tt-head';
  head.textContent = `epoch ${step}`;
  const rows = [head];
  for (const s of series) {
    const p = s.points.find((q) => q[0] === step);
    if (!p) continue;
    const row = document.createElement('div');
    row.className = 'tt-row';
    const sw = document.createElement('span');
    sw.className = `tt-swatch ${s.style || s.split}`;
    sw.style.borderColor = s.color;
    const name = document.createElement('span');
    name.className = 'tt-name';
    name.textContent = `${s.run} · ${s.label || s.split}`;
    const val = document.createElement('span');
    val.className = 'tt-val';
    val.textContent = fmt(p[1]);
    row.append(sw, name, val);
    rows.push(row);
  }
  return rows;
}

/**
 * Shows the values at `step` next to the mouse, and the hover line.
 * @param {ChartParts} chart
 * @param {number} step
 * @param {MouseEvent} event
 */
function showTooltip(chart, step, event) {
  const {tooltip, wrap, scale, hoverLine} = chart;
  tooltip.replaceChildren(...tooltipRows(chart.current.series, step));
  tooltip.hidden = false;
  const box = wrap.getBoundingClientRect();
  const x = event.clientX - box.left;
  const y = event.clientY - box.top;
  const left = x + 14 + tooltip.offsetWidth > box.width ? x - 14 - tooltip.offsetWidth : x + 14;
  tooltip.style.left = `${Math.max(0, left)}px`;
  tooltip.style.top = `${Math.max(0, y - 10)}px`;
  hoverLine.setAttribute('x1', scale.x(step));
  hoverLine.setAttribute('x2', scale.x(step));
  hoverLine.style.display = '';
}

/**
 * Hides the tooltip and the hover line.
 * @param {ChartParts} chart
 */
function hideTooltip(chart) {
  chart.tooltip.hidden = true;
  if (chart.hoverLine) chart.hoverLine.style.display = 'none';
}

/**
 * Hover shows the values at the nearest epoch; a click on a point (or anywhere on the plot) picks it.
 * @param {ChartParts} chart
 * @param {(epoch: number) => void} onPick
 */
function wireChart(chart, onPick) {
  const {svg} = chart;
  svg.addEventListener('mousemove', (event) => {
    const step = stepFromEvent(chart, event);
    if (step === null) hideTooltip(chart);
    else showTooltip(chart, step, event);
  });
  svg.addEventListener('mouseleave', () => hideTooltip(chart));
  svg.addEventListener('click', (event) => {
    const target = event.target;
    const step = target && target.dataset && target.dataset.step !== undefined ? Number(target.dataset.step) : stepFromEvent(chart, event);
    if (step !== null && Number.isFinite(step)) onPick(step);
  });
}

/**
 * Creates a chart. `onPick(epoch)` is called when the user clicks an epoch; `domain` is a y range always
 * shown; `note` goes under the title; `id` is the figure's `data-chart`.
 * @param {{title: string, onPick: (epoch: number) => void, domain?: [number, number]|null, note?: Node|null,
 *     id?: string}} options
 * @returns {{element: HTMLElement, update: (data: {series: ChartSeries[], cursor: number|null}) => void,
 *     setCursor: (epoch: number|null) => void}}
 */
export function createChart({title, onPick, domain = null, note = null, id = title}) {
  /** @type {ChartParts} */
  const chart = {...chartFrame(title, note), current: {series: [], cursor: null}, scale: null, cursorLine: null,
    hoverLine: null, domain};
  chart.wrap.dataset.chart = id;
  wireChart(chart, onPick);
  return {
    element: chart.wrap,
    update({series, cursor}) {
      chart.current = {series, cursor};
      draw(chart);
    },
    setCursor(epoch) {
      chart.current.cursor = epoch;
      placeCursor(chart);
    },
  };
}
