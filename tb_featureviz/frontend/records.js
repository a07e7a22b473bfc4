// What a `/step` record says about its grid: which channel or filter each tile shows (from the tile list a
// grid kind's view reads off its record: view-activations.js, view-filters.js `tiles`), and the one-line
// summaries the panels print; and which exemplars an `exemplars/<layer>` record gives a channel. Pure
// functions of the record (tb_featureviz/metadata.py has its format).
//
// Tile k of a grid shows channel record.channels[k] of a reduced activation grid (channel k without
// that list), and filter record.filters[k] of a filter grid. The view state's `channel` holds that
// channel or filter index, never a tile position: it names the same channel at every epoch, under a
// filter rotation too, and is what the export's `channel` means.

/**
 * @typedef {import('./types.js').GridLayout} GridLayout
 * @typedef {import('./types.js').ActivationRecord} ActivationRecord
 * @typedef {import('./types.js').FilterRecord} FilterRecord
 * @typedef {import('./types.js').FilterSchedule} FilterSchedule
 * @typedef {ActivationRecord|FilterRecord|Object} GridRecord
 */

/**
 * The channel (or filter) of each tile, when the record lists them: `record[key]` (a grid kind's view
 * names the key: `channels` of an activation grid, `filters` of a filter grid).
 * @param {GridRecord|null} record
 * @param {string} key
 * @returns {number[]|null}
 */
export function listed(record, key) {
  const list = record && record[key];
  return Array.isArray(list) ? list : null;
}

/**
 * The channel (activations) or filter (filters) that tile `k` shows.
 * @param {number[]|null} list  The record's tile list (`listed`); null: tile k shows k.
 * @param {number} k
 * @returns {number}
 */
export function tileChannel(list, k) {
  return list && list[k] !== undefined ? Number(list[k]) : k;
}

/**
 * The tile that shows channel or filter `c`, or null when this record's grid does not draw it.
 * @param {number[]|null} list  The record's tile list (`listed`).
 * @param {number|null} c
 * @param {number} count  Tiles in the grid.
 * @returns {number|null}
 */
export function tileOf(list, c, count) {
  if (c === null || c === undefined) return null;
  if (list) {
    const k = list.findIndex((v) => Number(v) === c);
    return k < 0 || k >= count ? null : k;
  }
  return c < count ? c : null;
}

/**
 * "Channel 7" or "Filter 7": what tile `k` shows.
 * @param {string} noun  "Channel" or "Filter" (the kind's view `tileNoun`).
 * @param {number[]|null} list
 * @param {number} k
 * @returns {string}
 */
export function tileName(noun, list, k) {
  return `${noun} ${tileChannel(list, k)}`;
}

/**
 * "a–b" of a pair.
 * @param {[number, number]} pair
 * @returns {string}
 */
export const span = (pair) => `${pair[0]}–${pair[1]}`;

/**
 * ", tiles 8×8 of 30×30 (1/4)" for tiles shrunk `scale` times from `h`×`w`, else ''.
 * @param {number|undefined} scale
 * @param {GridLayout|null} layout
 * @param {number|undefined} h
 * @param {number|undefined} w
 * @returns {string}
 */
export function shrinkText(scale, layout, h, w) {
  if (!(scale > 1) || !layout) return '';
  const of = h && w ? ` of ${w}×${h}` : '';
  return `, tiles ${layout.tile_width}×${layout.tile_height}${of} (1/${scale})`;
}

/**
 * Whether a filter schedule draws a window of the layer's filters rather than all of them.
 * @param {FilterSchedule|undefined} schedule
 * @returns {boolean}
 */
export function rotating(schedule) {
  return Boolean(schedule && Array.isArray(schedule.window) && schedule.of &&
    !(schedule.window[0] <= 0 && schedule.window[1] >= schedule.of - 1));
}

/**
 * The warning text of a record with non-finite values (a diverged model: drawn as 0, null in the
 * record), or null.
 * @param {Object|null} record
 * @returns {string|null}
 */
export function nonfiniteText(record) {
  const n = record && Number.isInteger(record.nonfinite) ? record.nonfinite : 0;
  if (n <= 0) return null;
  return `Non-finite: ${n} NaN or inf value${n > 1 ? 's' : ''} (the model diverged); drawn as 0.`;
}

/**
 * A ratio as a short number: one decimal from 1 to 10 ("4.2"), none from 10, two below 1 ("0.87").
 * @param {number} v
 * @returns {string}
 */
export function ratioText(v) {
  return v.toFixed(v >= 10 ? 0 : v >= 1 ? 1 : 2);
}

/** What a relative-activation figure means (the tooltip of the line that shows one). */
export const RELATIVE_MEANING = "How hard a filter's pattern drives it: the filter's mean activation on its own " +
  'pattern divided by its mean activation over the probe images. The layer figure is the median over the ' +
  'filters drawn at this epoch (the patterns/relative_activation/<layer> curve); 1× means the pattern finds ' +
  'nothing the probe images do not already show.';

/**
 * The layer's relative-activation figure: "patterns 4.2× the probes' mean activation (median)" (the
 * report's wording), or null when the record has none.
 * @param {Object|null} record  A filter record (`relative_median`).
 * @returns {string|null}
 */
export function relativeText(record) {
  const v = record ? record.relative_median : null;
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return `patterns ${ratioText(v)}× the probes' mean activation (median)`;
}

/**
 * How every view names probe image `index`: 0-based (as `--probe`, the URL, the API and the report count
 * them), with its true class where known. The twin of tb_featureviz.metadata.probe_label; both are tested
 * on tests/support/label_cases.json.
 * @param {number} index
 * @param {string|null} [name]
 * @returns {string}
 * @example probeLabel(0, 'discs')  // "probe 0 (discs)"
 */
export function probeLabel(index, name = null) {
  return `probe ${index}` + (name === null || name === undefined || name === '' ? '' : ` (${name})`);
}

// -- the plan record: what the budget drew and skipped at an epoch ---------------------------------------

// What plan records call the Grad-CAM checks' task: the name logs have always stored (metadata.CHECKS_TASK).
const CHECKS_TASK = 'metrics';
const EXTRA_NAMES = {[CHECKS_TASK]: 'Grad-CAM checks', exemplars: 'exemplars'};

/**
 * A run of names, short: "conv1", "conv1, conv2", "conv1, conv2, conv3", "conv1 … conv4 (4 layers)".
 * @param {string[]} names
 * @returns {string}
 */
function nameRun(names) {
  return names.length <= 3 ? names.join(', ') : `${names[0]} … ${names[names.length - 1]} (${names.length} layers)`;
}

/**
 * Seconds as the plan's reasons write them.
 * @param {number} v
 * @returns {string}
 */
function seconds(v) {
  return v.toFixed(2);
}

/**
 * The short form of a skip reason (tb_featureviz.writer.planner.SKIP_REASONS): `{needs, left}` for "needs ~X s, the
 * budget has Y s left[ after keeping ...]", else a short phrase.
 * @param {string} reason
 * @returns {{needs?: number, left?: number, text?: string}}
 */
function shortReason(reason) {
  const m = /^needs ~([\d.]+) s, the budget has ([\d.]+) s left/.exec(reason);
  if (m) return {needs: Number(m[1]), left: Number(m[2])};
  if (/^over budget/.test(reason)) return {text: 'over budget'};
  if (/^not a filter epoch/.test(reason)) return {text: 'not a filter epoch'};
  if (/^fits, but waits/.test(reason)) return {text: 'waiting its turn'};
  if (/^the run's budget has/.test(reason)) return {text: "the run's budget cannot pay for them"};
  const cut = reason.search(/[:;(]/);
  return {text: (cut > 0 ? reason.slice(0, cut) : reason).trim()};
}

/**
 * Why a group of skipped tasks was skipped, in short: "needs ~0.65–6.23 s, 0.14 s left", "over budget".
 * @param {string[]} reasons
 * @returns {string}
 */
function groupReason(reasons) {
  const parts = reasons.map(shortReason);
  const texts = [];
  const sized = parts.filter((r) => r.needs !== undefined);
  if (sized.length) {
    const needs = sized.map((r) => r.needs);
    const left = Math.min(...sized.map((r) => r.left));
    const lo = Math.min(...needs);
    const hi = Math.max(...needs);
    texts.push(`needs ~${lo === hi ? seconds(lo) : `${seconds(lo)}–${seconds(hi)}`} s, ${seconds(left)} s left`);
  }
  for (const r of parts) if (r.text && !texts.includes(r.text)) texts.push(r.text);
  return texts.join('; ');
}

/**
 * The skipped tasks of a plan record, grouped: `[{what, names, reasons: [[name, reason]...]}]` in the order
 * activations, filter patterns, extras; layers in model order (`order`) where given.
 * @param {Object} record
 * @param {string[]|null} order
 */
function skippedGroups(record, order) {
  const skipped = record.skipped && typeof record.skipped === 'object' ? record.skipped : {};
  const rank = (name) => {
    const i = order ? order.indexOf(name) : -1;
    return i < 0 ? Infinity : i;
  };
  const groups = [
    {what: 'activations', items: []},
    {what: 'filter patterns', items: []},
    ...Object.entries(EXTRA_NAMES).map(([key, what]) => ({what, key, items: []})),
    {what: 'other', items: []},
  ];
  for (const [key, reason] of Object.entries(skipped)) {
    let group;
    let name = key;
    if (key.startsWith('activations/')) {
      group = groups[0];
      name = key.slice('activations/'.length);
    } else if (key in EXTRA_NAMES) {
      group = groups.find((g) => g.key === key);
      name = '';
    } else {
      group = groups[1];
    }
    group.items.push([name, String(reason)]);
  }
  for (const g of groups) g.items.sort((a, b) => rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return groups.filter((g) => g.items.length);
}

/**
 * The budget at the head of a plan line: "budget 5%", "budget 2.0 s/epoch" or "no budget limit", with
 * " (over)" while the callback has spent more than allowed.
 * @param {Object} record
 * @returns {string}
 */
function budgetHead(record) {
  const b = record.budget || {};
  let head = 'no budget limit';
  if (typeof b.fraction === 'number') head = `budget ${Number((b.fraction * 100).toPrecision(3))}%`;
  else if (typeof b.seconds_per_epoch === 'number') head = `budget ${seconds(b.seconds_per_epoch)} s/epoch`;
  return record.over_budget === true ? `${head} (over)` : head;
}

/**
 * What an epoch drew, as short phrases: "activations (8 layers)", "Grad-CAM", "filter patterns conv1", ...
 * @param {Object} record
 * @param {string[]|null} order
 * @returns {string[]}
 */
function drewList(record, order) {
  const out = [];
  const acts = Array.isArray(record.activations) ? record.activations : [];
  if (acts.length) out.push(`activations (${acts.length <= 2 ? acts.join(', ') : `${acts.length} layers`})`);
  if (record.gradcam) out.push('Grad-CAM');
  const filters = record.filters && typeof record.filters === 'object' ? Object.keys(record.filters) : [];
  if (filters.length) {
    const rank = (n) => (order && order.includes(n) ? order.indexOf(n) : Infinity);
    out.push(`filter patterns ${nameRun(filters.sort((a, b) => rank(a) - rank(b)))}`);
  }
  for (const e of Array.isArray(record.extras) ? record.extras : []) out.push(EXTRA_NAMES[e] || String(e));
  return out;
}

/**
 * The one line a panel shows about the budget at an epoch, from its `plan` record: "budget 5%: drew
 * activations (8 layers), Grad-CAM · skipped filter patterns conv1 … conv4 (4 layers): needs ~0.65–6.23 s,
 * 0.14 s left; exemplars: needs ~0.39 s, 0.01 s left".
 * @param {Object} record  A `plan` record (tb_featureviz.metadata).
 * @param {string[]|null} [order]  The run's layers in model order (run_info `layers`).
 * @returns {string}
 */
export function planLine(record, order = null) {
  const drew = drewList(record, order);
  const skipped = skippedGroups(record, order).map((g) => {
    const names = g.items.map(([n]) => n).filter((n) => n);
    return `${g.what}${names.length ? ` ${nameRun(names)}` : ''}: ${groupReason(g.items.map(([, r]) => r))}`;
  });
  let line = `${budgetHead(record)}: drew ${drew.length ? drew.join(', ') : 'nothing'}`;
  if (skipped.length) line += ` · skipped ${skipped.join('; ')}`;
  return line;
}

/**
 * The full account behind `planLine`: the time spent against the allowance, then each skipped task with
 * its whole reason, then what was drawn.
 * @param {Object} record
 * @param {string[]|null} [order]
 * @returns {string[]}
 */
export function planDetails(record, order = null) {
  const out = [];
  const spent = record.spent_seconds;
  const allowed = record.allowed_seconds;
  if (typeof spent === 'number') {
    const of = typeof allowed === 'number' ? ` of the ${seconds(allowed)} s allowed so far` : '';
    const train = typeof record.train_seconds === 'number' ? ` (training so far: ${record.train_seconds.toFixed(1)} s)` : '';
    out.push(`the callback has spent ${seconds(spent)} s${of}${train}${record.over_budget === true ? ': over budget' : ''}`);
  }
  for (const g of skippedGroups(record, order)) {
    for (const [name, reason] of g.items) out.push(`skipped ${g.what}${name ? ` ${name}` : ''}: ${reason}`);
  }
  const acts = Array.isArray(record.activations) ? record.activations : [];
  if (acts.length) out.push(`drew activations of ${acts.join(', ')}`);
  if (record.gradcam) out.push(`drew Grad-CAM at ${record.gradcam}`);
  for (const [layer, info] of Object.entries(record.filters && typeof record.filters === 'object' ? record.filters : {})) {
    const w = info && Array.isArray(info.window) ? ` (filters ${span(info.window)}${info.of ? ` of ${info.of}` : ''})` : '';
    out.push(`drew filter patterns of ${layer}${w}`);
  }
  for (const e of Array.isArray(record.extras) ? record.extras : []) out.push(`drew ${EXTRA_NAMES[e] || e}`);
  return out;
}

/**
 * One exemplar of an `exemplars/<layer>` record: sample image `image`, response `value` centred at (y, x).
 * @typedef {{image: number, y: number, x: number, value: number|null}} Exemplar
 */

/**
 * The exemplars of channel `c` in an exemplars record (best first), or null when the record has none for it
 * (a channel a reduced grid leaves out).
 * @param {import('./types.js').ExemplarsRecord|null} record
 * @param {number} c
 * @returns {Exemplar[]|null}
 */
export function exemplarsOf(record, c) {
  const channels = record && Array.isArray(record.channels) ? record.channels : null;
  const i = channels ? channels.findIndex((v) => Number(v) === c) : -1;
  const list = i >= 0 && Array.isArray(record.exemplars) ? record.exemplars[i] : null;
  if (!Array.isArray(list)) return null;
  return list.map(([image, y, x, value]) => ({image, y, x, value}));
}

/**
 * The newest of the sorted `steps` at or before `epoch`, or null.
 * @param {number[]} steps
 * @param {number} epoch
 * @returns {number|null}
 */
export function stepAtOrBefore(steps, epoch) {
  let best = null;
  for (const s of steps) if (s <= epoch) best = s;
  return best;
}
