// Hand-rolled SVG line charts for the loss and metric curves (no libraries: TensorBoard's CSP forbids
// remote scripts, and a few hundred lines do the job).
//
// One chart per metric; every run has its own colour, train is a solid line, validation a dashed one. A
// chart of several measures (checks.js) gives each measure a line style and a label instead of a split.
// A vertical cursor marks the epoch on show; hovering shows the values at the nearest epoch; clicking
// a point (or anywhere on the plot) picks that epoch. The title (or the ⤢ button) opens a larger view.
//
// The tick rule is the report's: matplotlib's `MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])` under
// `axes.autolimit_mode = "round_numbers"`, ported in `niceTicks` and checked on one table of cases in both
// languages (tests/support/tick_cases.json). A linear y axis runs from the first tick to the last, so the
// ticks cover the data. The learning rate, and any metric whose positive values span two decades or more,
// get a log axis (`logTicks`). Every chart of the Curves card shares one epoch axis.

const SVG = 'http://www.w3.org/2000/svg';
/** Width of a chart that is not in the page yet (it is drawn again at its real width once it is). */
const DEFAULT_W = 320;
/** Height of a chart in the Curves card and of the larger view's chart (px, the SVG's own units). */
const INLINE_H = 200;
const LARGE_H = 520;
const TICK_FONT = {inline: 10, large: 12};

// -- the tick rule ---------------------------------------------------------------------------------

const NBINS = 5;
const STEPS = [1, 2, 2.5, 5, 10];
/** MaxNLocator's `_staircase(steps)`. */
const EXTENDED_STEPS = [...STEPS.slice(0, -1).map((s) => 0.1 * s), ...STEPS, 10 * STEPS[1]];
const MIN_N_TICKS = 2;
/** `np.finfo(float).tiny`. */
const FLOAT_TINY = 2.2250738585072014e-308;

/**
 * `10 ** k` for an integer `k`, correctly rounded (as CPython's `10.0 ** k` is).
 * @param {number} k
 * @returns {number}
 */
function pow10(k) {
  return Number(`1e${k}`);
}

/**
 * Python's (and NumPy's) float `divmod`: the floor quotient and a remainder with the divisor's sign.
 * @param {number} x
 * @param {number} y  Non-zero.
 * @returns {[number, number]}
 */
function pyDivmod(x, y) {
  let mod = x % y;
  let div = (x - mod) / y;
  if (mod) {
    if ((y < 0) !== (mod < 0)) {
      mod += y;
      div -= 1;
    }
  } else {
    mod = y < 0 ? -0 : 0;
  }
  let floordiv;
  if (div) {
    floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
  } else {
    floordiv = x / y < 0 || Object.is(x / y, -0) ? -0 : 0;
  }
  return [floordiv, mod];
}

/**
 * `matplotlib.transforms._nonsingular`: `[vmin, vmax]` sorted, widened when the range is too small.
 * @param {number} vmin
 * @param {number} vmax
 * @param {number} expander
 * @param {number} tiny
 * @returns {[number, number]}
 */
function nonsingular(vmin, vmax, expander, tiny) {
  if (!Number.isFinite(vmin) || !Number.isFinite(vmax)) return [-expander, expander];
  if (vmax < vmin) [vmin, vmax] = [vmax, vmin];
  const maxabs = Math.max(Math.abs(vmin), Math.abs(vmax));
  if (maxabs < (1e6 / tiny) * FLOAT_TINY) {
    vmin = -expander;
    vmax = expander;
  } else if (vmax - vmin <= maxabs * tiny) {
    if (vmax === 0 && vmin === 0) {
      vmin = -expander;
      vmax = expander;
    } else {
      vmin -= expander * Math.abs(vmin);
      vmax += expander * Math.abs(vmax);
    }
  }
  return [vmin, vmax];
}

/**
 * `matplotlib.ticker.scale_range(vmin, vmax, n)`: the power of ten of a step, and an offset for ranges far
 * from zero.
 * @param {number} vmin
 * @param {number} vmax
 * @param {number} n
 * @returns {[number, number]}
 */
function scaleRange(vmin, vmax, n) {
  const threshold = 100;
  const dv = Math.abs(vmax - vmin);
  const meanv = (vmax + vmin) / 2;
  let offset = 0;
  if (!(Math.abs(meanv) / dv < threshold)) {
    offset = Math.sign(meanv) * pow10(pyDivmod(Math.log10(Math.abs(meanv)), 1)[0]);
  }
  const scale = pow10(pyDivmod(Math.log10(dv / n), 1)[0]);
  return [scale, offset];
}

/**
 * `matplotlib.ticker._Edge_integer`: multiples of `step`, forgiving float error near an edge.
 * @param {number} step
 * @param {number} offset
 */
function edgeInteger(step, offset) {
  const off = Math.abs(offset);
  const closeto = (ms, edge) => {
    let tol = 1e-10;
    if (off > 0) {
      const digits = Math.log10(off / step);
      tol = Math.min(0.4999, Math.max(1e-10, 10 ** (digits - 12)));
    }
    return Math.abs(ms - edge) < tol;
  };
  return {
    /** The largest n with n * step <= x. */
    le(x) {
      const [d, m] = pyDivmod(x, step);
      return closeto(m / step, 1) ? d + 1 : d;
    },
    /** The smallest n with n * step >= x. */
    ge(x) {
      const [d, m] = pyDivmod(x, step);
      return closeto(m / step, 0) ? d : d + 1;
    },
  };
}

/**
 * `MaxNLocator._raw_ticks` for our settings, `axes.autolimit_mode = "round_numbers"`.
 * @param {number} vmin
 * @param {number} vmax
 * @param {boolean} integer
 * @returns {number[]}
 */
function rawTicks(vmin, vmax, integer) {
  const [scale, offset] = scaleRange(vmin, vmax, NBINS);
  const lo = vmin - offset;
  const hi = vmax - offset;
  let steps = EXTENDED_STEPS.map((s) => s * scale);
  if (integer) steps = steps.filter((s) => s < 1 || Math.abs(s - Math.round(s)) < 0.001);
  const rawStep = (hi - lo) / NBINS;
  // round_numbers may need a larger step: NBINS steps from the multiple at or below lo must reach hi.
  let istep = steps.findIndex((s) => s >= rawStep && pyDivmod(lo, s)[0] * s + s * NBINS >= hi);
  if (istep < 0) istep = steps.length - 1;
  let ticks = [];
  for (let i = istep; i >= 0; i--) {
    let step = steps[i];
    if (integer && Math.floor(hi) - Math.ceil(lo) >= MIN_N_TICKS - 1) step = Math.max(1, step);
    const bestLo = pyDivmod(lo, step)[0] * step;
    const edge = edgeInteger(step, offset);
    const low = edge.le(lo - bestLo);
    const high = edge.ge(hi - bestLo);
    ticks = [];
    for (let n = low; n <= high; n++) ticks.push(n * step + bestLo);
    if (ticks.filter((t) => t <= hi && t >= lo).length >= MIN_N_TICKS) break;
  }
  return ticks.map((t) => t + offset);
}

/**
 * The ticks of a linear axis whose data span `[lo, hi]`: matplotlib's
 * `MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10], integer=integer)` `.tick_values(*locator.nonsingular(lo, hi))`
 * under `axes.autolimit_mode = "round_numbers"` (the axis then runs from the first tick to the last). An
 * empty range is widened by 5% each side first (by 0.05 around 0), as matplotlib's axes do.
 * @param {number} lo
 * @param {number} hi
 * @param {{integer?: boolean}} [options]  `integer`: whole-number ticks (epochs).
 * @returns {number[]}  Ascending; the first is <= lo and the last >= hi.
 * @example niceTicks(0.06, 0.7)  // [0, 0.2, 0.4, 0.6, 0.8]
 */
export function niceTicks(lo, hi, {integer = false} = {}) {
  [lo, hi] = nonsingular(lo, hi, 0.05, 1e-15);
  [lo, hi] = nonsingular(lo, hi, 1e-13, 1e-14);
  return rawTicks(lo, hi, integer);
}

/**
 * `log10(v)`, snapped to a whole number within 1e-6 (a float32 learning rate of 1e-4 is a decade).
 * @param {number} v  > 0.
 * @returns {number}
 */
function decadeOf(v) {
  const l = Math.log10(v);
  const r = Math.round(l);
  return Math.abs(l - r) < 1e-6 ? r : l;
}

/**
 * The ticks of a log axis whose data span `[lo, hi]` (both > 0): the decades around the data (matplotlib's
 * `LogLocator` with round limits; one value alone gets the decades either side), every k-th decade past
 * six, plus 2 and 5 times each decade where the axis spans at most two.
 * @param {number} lo
 * @param {number} hi
 * @returns {number[]}  Ascending; the first and last are the axis' limits.
 * @example logTicks(1e-4, 1e-4)  // [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3]
 */
export function logTicks(lo, hi) {
  let d0 = Math.floor(decadeOf(lo));
  let d1 = Math.ceil(decadeOf(hi));
  if (d1 <= d0) {
    d0 -= 1;
    d1 = d0 + 2;
  }
  const stride = Math.ceil((d1 - d0) / 6);
  d1 = d0 + stride * Math.ceil((d1 - d0) / stride);
  const ticks = [];
  for (let k = d0; k <= d1; k += stride) {
    ticks.push(pow10(k));
    if (d1 - d0 <= 2 && k < d1) ticks.push(Number(`2e${k}`), Number(`5e${k}`));
  }
  return ticks;
}

/**
 * Whether a metric gets a log axis: the learning rate, or positive values that span two decades or more.
 * @param {string} name  The metric ("learning_rate", "lr", "loss", …).
 * @param {number[]} values  Its finite values.
 * @returns {boolean}
 */
export function wantsLogAxis(name, values) {
  if (!values.length || values.some((v) => !(v > 0))) return false;
  if (/(^|[/_ ])(learning_rate|lr)$/i.test(name)) return true;
  return Math.max(...values) / Math.min(...values) >= 100;
}

// -- labels ----------------------------------------------------------------------------------------

/**
 * `1e-4`, `2.5e-5`: exponent form with no trailing zeros and no "+".
 * @param {string} s  `Number.prototype.toExponential`'s text.
 * @returns {string}
 */
function tidyExponent(s) {
  const [m, e] = s.split('e');
  const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
  return `${mant}e${e.replace('+', '')}`;
}

/**
 * The labels of an axis' ticks: as few digits as give each tick exactly (no float noise), trailing zeros
 * dropped; exponent form (`1e-4`, `5e-5`, `2e5`) for an axis that reaches below 1e-3 or from 1e4.
 * @param {number[]} ticks
 * @param {boolean} [log]  A log axis (each label on its own).
 * @returns {string[]}
 */
export function tickLabels(ticks, log = false) {
  const sizes = ticks.map(Math.abs).filter((a) => a > 0);
  const big = Math.max(0, ...sizes);
  const step = log ? 0 : ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : big || 1;
  // One form for the whole axis: a linear axis by its largest tick, a log axis by its smallest and largest.
  const expo = big >= 1e4 || (log ? Math.min(...sizes) < 1e-3 : big < 1e-3);
  const label = (t, d) => (expo ? tidyExponent(t.toExponential(d)) : String(Number(t.toFixed(d))));
  return ticks.map((t) => {
    if (t === 0 || (!log && Math.abs(t) < step * 1e-9)) return '0';
    const tol = log ? Math.abs(t) * 1e-9 : step * 1e-6;
    for (let d = 0; d < 16; d++) {
      const s = label(t, d);
      if (Math.abs(Number(s) - t) <= tol) return s;
    }
    return label(t, 15);
  });
}

/**
 * A short label of a value (tooltips): 4 significant digits, exponent form below 1e-3 and from 1e4.
 * @param {number} v
 * @returns {string}
 */
function fmt(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return tidyExponent(v.toExponential(3));
  return String(Number(v.toPrecision(4)));
}

let measureContext = null;

/**
 * Width in px of `text` in the page's font at `size` px (the tick labels' font).
 * @param {string} text
 * @param {number} size
 * @returns {number}
 */
function textWidth(text, size) {
  if (!measureContext) measureContext = document.createElement('canvas').getContext('2d');
  if (!measureContext) return text.length * size * 0.62;
  const family = getComputedStyle(document.documentElement).fontFamily || 'sans-serif';
  measureContext.font = `${size}px ${family}`;
  return measureContext.measureText(text).width;
}

// -- scales ----------------------------------------------------------------------------------------

/**
 * One line of a chart: a run's train or validation curve of one metric.
 * @typedef {Object} ChartSeries
 * @property {string} run
 * @property {string} split  "train" (solid) or "validation" (dashed); "check" for a measure.
 * @property {'solid'|'dashed'|'dotted'} [style]  Line style of a measure (overrides the split's).
 * @property {string} [label]  What the line is, where the split does not say it (a measure's name).
 * @property {string} [tag]  The scalar tag of a measure (`data-tag`).
 * @property {string} color
 * @property {string} [dash]  The run's own `stroke-dasharray` (facts.js `DASHES`; '' or absent: solid). A run
 *     drawn dashed keeps its dash on its validation line too, which is then faded instead of dashed.
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
 * @property {string[]} yLabels
 * @property {boolean} log  Whether the y axis is logarithmic.
 * @property {[number, number]} yDomain  The y axis' limits (the first and last tick).
 * @property {{left: number, right: number, top: number, bottom: number}} m  Margins.
 * @property {number} w  SVG width.
 * @property {number} h  SVG height.
 * @property {number} pw  Plot width.
 * @property {number} ph  Plot height.
 */

/**
 * The epochs that every chart of a card shares: `[first, last]` over all their points, or null.
 * @param {ChartSeries[][]} seriesLists
 * @returns {[number, number]|null}
 */
export function epochDomain(seriesLists) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const list of seriesLists) {
    for (const s of list) {
      for (const p of s.points) {
        if (p[0] < lo) lo = p[0];
        if (p[0] > hi) hi = p[0];
      }
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/**
 * The scale of `series`, or null when they have no points.
 * @param {ChartSeries[]} series
 * @param {Object} [options]
 * @param {[number, number]|null} [options.domain]  A y range always shown (a measure in [0, 1] keeps that
 *     scale whatever its values).
 * @param {[number, number]|null} [options.xDomain]  The epochs shown (shared by the card's charts); the
 *     series' own by default.
 * @param {string} [options.name]  The metric (the learning rate gets a log axis).
 * @param {'auto'|'linear'|'log'} [options.yScale]
 * @param {number} [options.width]
 * @param {number} [options.height]
 * @param {number} [options.font]  Tick label size, px.
 * @returns {ChartScale|null}
 */
export function chartScale(series, {domain = null, xDomain = null, name = '', yScale = 'auto', width = DEFAULT_W,
  height = INLINE_H, font = TICK_FONT.inline} = {}) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return null;
  const steps = [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  let [x0, x1] = xDomain || [steps[0], steps[steps.length - 1]];
  x0 = Math.min(x0, steps[0]);
  x1 = Math.max(x1, steps[steps.length - 1]);
  if (x1 === x0) {
    x0 -= 0.5;
    x1 += 0.5;
  }
  const values = all.map((p) => p[1]).filter(Number.isFinite);
  const log = !domain && (yScale === 'log' || (yScale === 'auto' && wantsLogAxis(name, values))) &&
    values.length > 0 && values.every((v) => v > 0);
  let yTicks;
  if (log) {
    yTicks = logTicks(Math.min(...values), Math.max(...values));
  } else {
    const ext = [...values, ...(domain || [])];
    yTicks = ext.length ? niceTicks(Math.min(...ext), Math.max(...ext)) : [0, 1];
  }
  let y0 = yTicks[0];
  let y1 = yTicks[yTicks.length - 1];
  if (!(y1 > y0)) {
    y0 -= 1;
    y1 += 1;
  }
  const yLabels = tickLabels(yTicks, log);
  const xTicks = niceTicks(x0, x1, {integer: true}).filter((v) => Number.isInteger(v) && v >= x0 && v <= x1);
  const widest = Math.max(0, ...yLabels.map((t) => textWidth(t, font)));
  const lastX = xTicks.length ? textWidth(String(xTicks[xTicks.length - 1]), font) / 2 : 0;
  const m = {left: Math.ceil(widest) + 12, right: Math.max(12, Math.ceil(lastX) + 4), top: 10, bottom: 2.2 * font + 12};
  const pw = Math.max(20, width - m.left - m.right);
  const ph = Math.max(20, height - m.top - m.bottom);
  const [t0, t1] = log ? [Math.log10(y0), Math.log10(y1)] : [y0, y1];
  const ty = log ? (v) => Math.log10(v) : (v) => v;
  return {
    x: (v) => m.left + ((v - x0) / (x1 - x0)) * pw,
    xInv: (px) => x0 + ((px - m.left) / pw) * (x1 - x0),
    y: (v) => m.top + (1 - (ty(v) - t0) / (t1 - t0)) * ph,
    steps, xTicks, yTicks, yLabels, log, yDomain: [y0, y1], m, w: width, h: height, pw, ph,
  };
}

// -- drawing ---------------------------------------------------------------------------------------

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
 * A chart's elements, options and what it draws now.
 * @typedef {Object} ChartParts
 * @property {HTMLElement} wrap
 * @property {SVGSVGElement} svg
 * @property {HTMLElement} tooltip
 * @property {HTMLElement} footnote  Under the plot: which epochs have points, what is not measured yet.
 * @property {{series: ChartSeries[], cursor: number|null, xDomain: [number, number]|null, footnote: string}} current
 * @property {ChartScale|null} scale  null while there is nothing to draw.
 * @property {SVGLineElement|null} cursorLine
 * @property {SVGLineElement|null} hoverLine
 * @property {{title: string, domain: [number, number]|null, yScale: 'auto'|'linear'|'log', large: boolean}} opts
 * @property {number} width  The width drawn at.
 * @property {string|null} highlighted  The run drawn bold (the others faded), or null.
 */

/**
 * The chart's figure: caption, an optional note under it (a key), SVG, a footnote and the tooltip.
 * @param {string} title
 * @param {Node|null} note
 * @param {boolean} large
 * @returns {{wrap: HTMLElement, caption: HTMLElement, svg: SVGSVGElement, tooltip: HTMLElement, footnote: HTMLElement}}
 */
function chartFrame(title, note, large) {
  const wrap = document.createElement('figure');
  wrap.className = large ? 'chart chart-large' : 'chart';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  wrap.appendChild(caption);
  if (note) wrap.appendChild(note);
  const svg = el('svg', {class: 'chart-svg', role: 'img'});
  svg.setAttribute('aria-label', `${title} by epoch`);
  wrap.appendChild(svg);
  const footnote = document.createElement('p');
  footnote.className = 'chart-footnote';
  footnote.hidden = true;
  wrap.appendChild(footnote);
  const tooltip = document.createElement('div');
  tooltip.className = 'chart-tooltip';
  tooltip.hidden = true;
  wrap.appendChild(tooltip);
  return {wrap, caption, svg, tooltip, footnote};
}

/**
 * The plot background, grid lines, ticks and the x axis label.
 * @param {SVGSVGElement} svg
 * @param {ChartScale} scale
 * @param {number} font
 */
function drawAxes(svg, scale, font) {
  const {x, y, pw, ph, m, w, h} = scale;
  el('rect', {x: m.left, y: m.top, width: pw, height: ph, class: 'plot-bg'}, svg);
  const axes = el('g', {class: `axes${scale.log ? ' log' : ''}`}, svg);
  scale.yTicks.forEach((v, i) => {
    el('line', {x1: m.left, x2: w - m.right, y1: y(v), y2: y(v), class: 'gridline'}, axes);
    const t = el('text', {x: m.left - 6, y: y(v) + font * 0.35, 'text-anchor': 'end', class: 'tick', 'font-size': font}, axes);
    t.textContent = scale.yLabels[i];
  });
  for (const v of scale.xTicks) {
    el('line', {x1: x(v), x2: x(v), y1: h - m.bottom, y2: h - m.bottom + 4, class: 'axis'}, axes);
    const t = el('text', {x: x(v), y: h - m.bottom + 6 + font, 'text-anchor': 'middle', class: 'tick', 'font-size': font}, axes);
    t.textContent = String(v);
  }
  el('line', {x1: m.left, x2: w - m.right, y1: h - m.bottom, y2: h - m.bottom, class: 'axis'}, axes);
  const xl = el('text', {x: m.left + pw / 2, y: h - 4, 'text-anchor': 'middle', class: 'axis-label', 'font-size': font}, axes);
  xl.textContent = 'epoch';
}

/**
 * One polyline per series (between its finite points: a measure drawn at some epochs only is joined
 * from one measured epoch to the next) and a marker (with a title, clickable) per finite value.
 * @param {SVGSVGElement} svg
 * @param {ChartSeries[]} series
 * @param {ChartScale} scale
 */
function drawSeries(svg, series, scale) {
  const {x, y} = scale;
  for (const s of series) {
    const runDash = s.split !== 'check' && s.dash ? s.dash : '';
    const g = el('g', {class: `series ${s.split} ${s.style || ''}${runDash ? ' run-dashed' : ''}`.trim(), 'data-run': s.run,
      'data-split': s.split}, svg);
    if (s.tag) g.dataset.tag = s.tag;
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (!scale.log || p[1] > 0));
    const coords = pts.map((p) => `${x(p[0]).toFixed(2)},${y(p[1]).toFixed(2)}`).join(' ');
    const line = el('polyline', {points: coords, class: 'line', stroke: s.color}, g);
    if (runDash) line.style.strokeDasharray = runDash;  // over the split's dashes of the stylesheet
    // A wide, invisible stroke the pointer can find (a path, so `polyline` still selects the line alone).
    if (pts.length) el('path', {d: `M${coords.replace(/ /g, ' L')}`, class: 'hit'}, g);
    for (const p of pts) {
      const c = el('circle', {cx: x(p[0]).toFixed(2), cy: y(p[1]).toFixed(2), r: s.split === 'check' ? 3.5 : 3, class: 'pt',
        fill: s.color}, g);
      c.dataset.step = String(p[0]);
      const tip = el('title', {}, c);
      tip.textContent = `${s.run} · ${s.label || s.split} · epoch ${p[0]}: ${fmt(p[1])}`;
    }
  }
}

/**
 * The width to draw `chart` at: its figure's, or a default while it is not in the page.
 * @param {ChartParts} chart
 * @returns {number}
 */
function widthOf(chart) {
  return Math.round(chart.wrap.clientWidth) || DEFAULT_W;
}

/**
 * Draws the chart's current series from scratch at its figure's width ("no data yet" without points).
 * @param {ChartParts} chart
 */
function draw(chart) {
  const {svg, opts, current} = chart;
  const width = widthOf(chart);
  const height = opts.large ? Math.max(260, Math.min(LARGE_H, window.innerHeight - 220)) : INLINE_H;
  const font = opts.large ? TICK_FONT.large : TICK_FONT.inline;
  chart.width = width;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  chart.footnote.textContent = current.footnote || '';
  chart.footnote.hidden = !current.footnote;
  chart.scale = chartScale(current.series, {domain: opts.domain, xDomain: current.xDomain, name: opts.title,
    yScale: opts.yScale, width, height, font});
  chart.cursorLine = null;
  chart.hoverLine = null;
  if (!chart.scale) {
    const t = el('text', {x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty'}, svg);
    t.textContent = 'no data yet';
    return;
  }
  drawAxes(svg, chart.scale, font);
  const {m, h} = chart.scale;
  chart.cursorLine = el('line', {y1: m.top, y2: h - m.bottom, class: 'cursor'}, svg);
  chart.hoverLine = el('line', {y1: m.top, y2: h - m.bottom, class: 'hover-line'}, svg);
  chart.hoverLine.style.display = 'none';
  drawSeries(svg, current.series, chart.scale);
  placeCursor(chart);
  applyHighlight(chart, chart.highlighted);
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

// -- interaction -----------------------------------------------------------------------------------

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
  if (local.x < scale.m.left - 8 || local.x > scale.w - scale.m.right + 8) return null;
  const target = scale.xInv(local.x);
  let best = null;
  for (const s of scale.steps) if (best === null || Math.abs(s - target) < Math.abs(best - target)) best = s;
  return best;
}

/** The most rows a tooltip lists (many runs: the rest are counted). */
const TOOLTIP_ROWS = 12;

/**
 * The tooltip's rows at `step`: a heading and one row per series with a point there, the highlighted run's
 * in bold; with more than `TOOLTIP_ROWS` rows, only the highlighted run's (or the first `TOOLTIP_ROWS` and a
 * count of the rest).
 * @param {ChartSeries[]} series
 * @param {number} step
 * @param {string|null} [highlighted]
 * @returns {HTMLElement[]}
 */
function tooltipRows(series, step, highlighted = null) {
  const head = document.createElement('div');
  head.className = 'tt-head';
  head.textContent = `epoch ${step}`;
  const rows = [head];
  const all = series.filter((s) => s.points.some((q) => q[0] === step));
  const mine = highlighted !== null && all.length > TOOLTIP_ROWS && all.some((s) => s.run === highlighted);
  const shown = mine ? all.filter((s) => s.run === highlighted) : all;
  for (const s of shown.slice(0, TOOLTIP_ROWS)) {
    const p = s.points.find((q) => q[0] === step);
    const row = document.createElement('div');
    row.className = s.run === highlighted ? 'tt-row highlighted' : 'tt-row';
    const sw = document.createElement('span');
    sw.className = `tt-swatch ${s.style || s.split}`;
    sw.style.borderColor = s.color;
    if (s.split !== 'check' && s.dash) sw.style.borderTopStyle = s.dash.split(' ').length > 2 ? 'dashed' : 'dotted';
    const name = document.createElement('span');
    name.className = 'tt-name';
    name.textContent = `${s.run} · ${s.label || s.split}`;
    const val = document.createElement('span');
    val.className = 'tt-val';
    val.textContent = fmt(p[1]);
    row.append(sw, name, val);
    rows.push(row);
  }
  if (shown.length > TOOLTIP_ROWS) {
    const more = document.createElement('div');
    more.className = 'tt-more';
    more.textContent = `… ${shown.length - TOOLTIP_ROWS} more (point at a line to see its run)`;
    rows.push(more);
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
  tooltip.replaceChildren(...tooltipRows(chart.current.series, step, chart.highlighted));
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
 * Draws `run`'s lines bold and fades the others (null: every line as usual).
 * @param {ChartParts} chart
 * @param {string|null} run
 */
function applyHighlight(chart, run) {
  chart.highlighted = run;
  const on = run !== null && chart.current.series.some((s) => s.run === run);
  chart.svg.classList.toggle('has-highlight', on);
  for (const g of chart.svg.querySelectorAll('g.series')) g.classList.toggle('highlighted', on && g.dataset.run === run);
}

/**
 * The run whose line is under the pointer of `event`, or null.
 * @param {MouseEvent} event
 * @returns {string|null}
 */
function runFromEvent(event) {
  const g = event.target && event.target.closest ? event.target.closest('g.series') : null;
  return g ? g.dataset.run : null;
}

/**
 * Hover shows the values at the nearest epoch; a click on a point (or anywhere on the plot) picks it. The
 * chart is drawn again when its figure's width changes. The pointer on a line reports its run to
 * `onHover` (null when it leaves), which highlights it (`applyHighlight`) in every chart; without
 * `onHover`, in this chart.
 * @param {ChartParts} chart
 * @param {(epoch: number) => void} onPick
 * @param {((run: string|null) => void)|null} [onHover]
 */
function wireChart(chart, onPick, onHover) {
  const {svg} = chart;
  let hovered = null;
  const hover = (run) => {
    if (run === hovered) return;
    hovered = run;
    if (onHover) onHover(run);
    else applyHighlight(chart, run);
  };
  svg.addEventListener('mousemove', (event) => {
    hover(runFromEvent(event));
    const step = stepFromEvent(chart, event);
    if (step === null) hideTooltip(chart);
    else showTooltip(chart, step, event);
  });
  svg.addEventListener('mouseleave', () => {
    hideTooltip(chart);
    hover(null);
  });
  svg.addEventListener('click', (event) => {
    const target = event.target;
    const step = target && target.dataset && target.dataset.step !== undefined ? Number(target.dataset.step) : stepFromEvent(chart, event);
    if (step !== null && Number.isFinite(step)) onPick(step);
  });
  if (typeof ResizeObserver !== 'undefined') {
    new ResizeObserver(() => {
      const w = widthOf(chart);
      if (chart.wrap.clientWidth && w !== chart.width) draw(chart);
    }).observe(chart.wrap);
  }
}

/**
 * A chart's parts, wired, with nothing drawn yet.
 * @param {{title: string, onPick: (epoch: number) => void, domain: [number, number]|null, note: Node|null,
 *     yScale: 'auto'|'linear'|'log', large: boolean}} options
 * @returns {ChartParts}
 */
function makeChart({title, onPick, onHover = null, domain, note, yScale, large}) {
  /** @type {ChartParts} */
  const chart = {...chartFrame(title, note, large), current: {series: [], cursor: null, xDomain: null, footnote: ''},
    scale: null, cursorLine: null, hoverLine: null, opts: {title, domain, yScale, large}, width: 0, highlighted: null};
  wireChart(chart, onPick, onHover);
  return chart;
}

/**
 * Opens the larger view of a chart: a modal dialog with the chart drawn again at the dialog's width, kept
 * in step with the small one while it is open; Escape, the close button or a click outside closes it.
 * @param {{title: string, onPick: (epoch: number) => void, domain: [number, number]|null, note: Node|null,
 *     yScale: 'auto'|'linear'|'log', id: string}} options
 * @param {ChartParts} small
 * @returns {{chart: ChartParts, close: () => void}}
 */
function openLarge(options, small) {
  const dialog = document.createElement('dialog');
  dialog.className = 'chart-dialog';
  dialog.setAttribute('aria-label', `${options.title}, larger view`);
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'chart-dialog-close';
  close.setAttribute('aria-label', 'Close the larger view');
  close.textContent = '×';
  const chart = makeChart({...options, note: options.note ? options.note.cloneNode(true) : null, large: true});
  chart.wrap.dataset.chartLarge = options.id;
  chart.current = {...small.current};
  const body = document.createElement('div');
  body.className = 'chart-dialog-body';
  body.append(close, chart.wrap);
  dialog.appendChild(body);
  document.body.appendChild(dialog);
  const done = () => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener('close', () => dialog.remove());
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) done();  // the backdrop: outside the body
  });
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation();  // the page's own Escape (closing a channel's view) is not for us
    done();
  });
  close.addEventListener('click', done);
  dialog.showModal();
  draw(chart);
  return {chart, close: done, dialog};
}

/**
 * Creates a chart. `onPick(epoch)` is called when the user clicks an epoch; `domain` is a y range always
 * shown; `note` goes under the title; `id` is the figure's `data-chart`; `yScale` picks the y axis ('auto':
 * log for the learning rate and for values over two decades); `onHover(run)` hears the run whose line the
 * pointer is on (null when none) and `highlight(run)` draws that run bold and the others faded. `update` takes the series, the cursor, the
 * epochs every chart of the card shows (`xDomain`, chart.js `epochDomain`) and a footnote.
 * @param {{title: string, onPick: (epoch: number) => void, onHover?: ((run: string|null) => void)|null,
 *     domain?: [number, number]|null, note?: Node|null, id?: string, yScale?: 'auto'|'linear'|'log'}} options
 * @returns {{element: HTMLElement, update: (data: {series: ChartSeries[], cursor: number|null,
 *     xDomain?: [number, number]|null, footnote?: string}) => void, setCursor: (epoch: number|null) => void,
 *     highlight: (run: string|null) => void, enlarge: () => void}}
 */
export function createChart({title, onPick, onHover = null, domain = null, note = null, id = title, yScale = 'auto'}) {
  const options = {title, onPick, onHover, domain, note, yScale, id};
  const chart = makeChart({...options, large: false});
  chart.wrap.dataset.chart = id;
  let large = null;
  const enlarge = () => {
    if (large && large.dialog.isConnected) return;
    large = openLarge(options, chart);
    large.dialog.addEventListener('close', () => {
      large = null;
    });
  };
  const expand = document.createElement('button');
  expand.type = 'button';
  expand.className = 'chart-expand';
  expand.title = 'Open a larger view';
  expand.setAttribute('aria-label', `Enlarge ${title}`);
  expand.textContent = '⤢';
  expand.addEventListener('click', enlarge);
  chart.caption.addEventListener('click', enlarge);
  chart.caption.title = 'Open a larger view';
  chart.wrap.insertBefore(expand, chart.caption.nextSibling);
  return {
    element: chart.wrap,
    update({series, cursor, xDomain = null, footnote = ''}) {
      chart.current = {series, cursor, xDomain, footnote};
      draw(chart);
      if (large) {
        large.chart.current = {...chart.current};
        draw(large.chart);
      }
    },
    highlight(run) {
      applyHighlight(chart, run);
      if (large) applyHighlight(large.chart, run);
    },
    setCursor(epoch) {
      chart.current.cursor = epoch;
      placeCursor(chart);
      if (large) {
        large.chart.current.cursor = epoch;
        placeCursor(large.chart);
      }
    },
    enlarge,
  };
}
