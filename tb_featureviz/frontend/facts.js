// What the view can show, derived from the `/index` document, the view state and the curves. Pure: each
// function reads only its arguments (the `shown*` helpers read an App without changing it); nothing here
// touches the DOM or the network.

import {COLORMAPS} from './colormap.js';
import {kindView, TAB_KINDS} from './kinds.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').IndexDoc} IndexDoc
 * @typedef {import('./types.js').RunInfo} RunInfo
 * @typedef {import('./types.js').ScalarsDoc} ScalarsDoc
 * @typedef {import('./types.js').TagEntry} TagEntry
 * @typedef {import('./types.js').ViewState} ViewState
 */

/**
 * Run colours: ten categorical hues (Tableau 10, kept apart for colour-blind readers as far as ten hues can be).
 * A run's slot picks a colour and a dash (`DASHES`): slots 0-9 are solid, 10-19 dash-dot, 20-29 dotted, so 30
 * selected runs draw 30 distinct lines.
 */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf'];
/**
 * The line dashes of a run, by `Math.floor(slot / PALETTE.length)`: `stroke-dasharray` values ('' solid).
 * They differ from the validation split's plain dashes (`5 4`): a dash-dot and a dotted line.
 */
export const DASHES = [
  {name: 'solid', dasharray: ''},
  {name: 'dashdot', dasharray: '10 3 2 3'},
  {name: 'dotted', dasharray: '2 3'},
];
/** The swatch of a run that is not selected (it has no slot, hence no colour). */
export const UNSELECTED_COLOR = '#c4c9cf';
const METRIC_ORDER = ['loss', 'accuracy', 'acc'];

/**
 * @param {IndexDoc|null} index
 * @param {string} run
 * @returns {RunInfo|null}
 */
export function runInfo(index, run) {
  return index ? index.runs.find((r) => r.run === run) || null : null;
}

/**
 * A run's line style: `{slot, color, dash, dasharray}` for slot `slot` (`assignSlots`); slots past
 * `PALETTE.length * DASHES.length` come round again.
 * @param {number} slot
 * @returns {{slot: number, color: string, dash: string, dasharray: string}}
 * @example slotStyle(12)  // {slot: 12, color: '#2ca02c', dash: 'dashdot', dasharray: '10 3 2 3'}
 */
export function slotStyle(slot) {
  const n = PALETTE.length;
  const d = DASHES[Math.floor(slot / n) % DASHES.length];
  return {slot, color: PALETTE[slot % n], dash: d.name, dasharray: d.dasharray};
}

/** Shades of a group's hue (grouped run list): 0 the hue itself, < 0 mixed towards black, > 0 towards white. */
export const GROUP_SHADES = [0, -0.4, 0.4, 0.65];

/**
 * `hex` mixed towards black (`t < 0`) or white (`t > 0`) by `|t|`.
 * @param {string} hex  "#rrggbb".
 * @param {number} t  In [-1, 1].
 * @returns {string}  "#rrggbb".
 * @example shade('#1f77b4', 0.5)  // '#8fbbda'
 */
export function shade(hex, t) {
  const target = t < 0 ? 0 : 255;
  const k = Math.abs(t);
  return '#' + [1, 3, 5].map((i) => {
    const v = parseInt(hex.slice(i, i + 2), 16);
    return Math.round(v + (target - v) * k).toString(16).padStart(2, '0');
  }).join('');
}

/**
 * A run's line style when the run list is grouped: its group's hue (`PALETTE[group]`), each member of the
 * group a dash (`DASHES`) and, past three members, a darker or lighter shade of the hue (`GROUP_SHADES`):
 * 12 distinct styles per group, 10 groups.
 * @param {number} group  The group's place among the groups.
 * @param {number} member  The run's slot within its group.
 * @returns {{slot: number, color: string, dash: string, dasharray: string}}
 * @example groupSlotStyle(1, 4)  // {slot: 1004, color: '#994c08', dash: 'dashdot', dasharray: '10 3 2 3'}
 */
export function groupSlotStyle(group, member) {
  const d = DASHES[member % DASHES.length];
  const t = GROUP_SHADES[Math.floor(member / DASHES.length) % GROUP_SHADES.length];
  return {slot: group * 1000 + member, color: shade(PALETTE[group % PALETTE.length], t), dash: d.name,
    dasharray: d.dasharray};
}

/**
 * The slots of a grouped run list: each selected run's group and its slot within the group (`assignSlots`
 * per group, so stable while the run stays selected), or null when some group has more selected runs than
 * `groupSlotStyle` tells apart (12) or there are more groups than hues (10): the plain slots then.
 * @param {Object<string, [number, number]>|null} previous  What the last call returned.
 * @param {string[][]} groups  The selected runs of each group, groups in their order.
 * @returns {Object<string, [number, number]>|null}  run -> [group, member].
 * @example groupedSlots(null, [['a', 'b'], [], ['c']])  // {a: [0, 0], b: [0, 1], c: [2, 0]}
 */
export function groupedSlots(previous, groups) {
  const capacity = DASHES.length * GROUP_SHADES.length;
  if (groups.length > PALETTE.length || groups.some((g) => g.length > capacity)) return null;
  const members = {};
  for (const [run, slot] of Object.entries(previous || {})) members[run] = slot[1];
  const out = {};
  groups.forEach((runs, gi) => {
    const own = assignSlots(members, runs);
    for (const run of runs) out[run] = [gi, own[run]];
  });
  return out;
}

/**
 * Gives every selected run a slot (a colour and dash, `slotStyle`), stable while the run stays selected: runs
 * that had a slot in `previous` keep it; each newly selected run, in selection order, takes the lowest free
 * slot. Without `previous`, slots follow the selection order (0, 1, 2, ...).
 * @param {Object<string, number>|null} previous  What the last call returned.
 * @param {string[]} selected  The selected runs, in selection order.
 * @returns {Object<string, number>}  run -> slot, for exactly the selected runs.
 * @example assignSlots({a: 0, b: 1, c: 2}, ['a', 'c', 'd'])  // {a: 0, c: 2, d: 1}
 */
export function assignSlots(previous, selected) {
  const out = {};
  const taken = new Set();
  for (const run of selected) {
    const slot = previous ? previous[run] : undefined;
    if (Number.isInteger(slot) && slot >= 0 && !taken.has(slot)) {
      out[run] = slot;
      taken.add(slot);
    }
  }
  let next = 0;
  for (const run of selected) {
    if (run in out) continue;
    while (taken.has(next)) next += 1;
    out[run] = next;
    taken.add(next);
  }
  return out;
}

/**
 * What the run-filter box holds, as a test of run names: plain text matches a case-insensitive substring;
 * `/pattern/` (or `/pattern/flags`) is a regular expression. An invalid expression matches every run and
 * says why in `error`.
 * @param {string} text
 * @returns {{test: (name: string) => boolean, error: string|null, regex: boolean}}
 * @example runFilter('/^lr_0\\.1/').test('lr_0.1_b32')  // true
 */
export function runFilter(text) {
  const t = (text || '').trim();
  const m = /^\/(.*)\/([a-z]*)$/s.exec(t);
  if (m) {
    try {
      const re = new RegExp(m[1], m[2]);
      return {test: (name) => { re.lastIndex = 0; return re.test(name); }, error: null, regex: true};
    } catch (e) {
      return {test: () => true, error: String(e.message || e), regex: true};
    }
  }
  const needle = t.toLowerCase();
  return {test: (name) => !needle || name.toLowerCase().includes(needle), error: null, regex: false};
}

/**
 * The runs whose names match the filter text (`runFilter`), in their order, and the filter's error.
 * @param {string[]} names
 * @param {string} text
 * @returns {{runs: string[], error: string|null}}
 */
export function filterRuns(names, text) {
  const f = runFilter(text);
  return {runs: names.filter((n) => f.test(n)), error: f.error};
}

/**
 * The scalar facts of a `run_info` record a run list can be grouped by, as `{key: value}`: every
 * `hparams` entry under its own name, the optimizer's (`optimizer.name`, `optimizer.learning_rate`, ...),
 * and `model`, `params` and `input_shape`. Values are strings, numbers or booleans (an array is joined).
 * @param {Object<string, *>|null} record  A `run_info` record.
 * @returns {Object<string, string|number|boolean>}
 */
export function groupFacts(record) {
  const out = {};
  if (!record || typeof record !== 'object') return out;
  const scalar = (v) => ['string', 'number', 'boolean'].includes(typeof v);
  const put = (k, v) => {
    if (scalar(v)) out[k] = v;
    else if (Array.isArray(v) && v.every((x) => x === null || scalar(x))) out[k] = v.map((x) => (x === null ? '?' : x)).join('x');
  };
  for (const [k, v] of Object.entries(record.hparams || {})) put(k, v);
  for (const [k, v] of Object.entries(record.optimizer || {})) if (!(`optimizer.${k}` in out)) put(`optimizer.${k}`, v);
  for (const k of ['model', 'params', 'input_shape']) if (!(k in out)) put(k, record[k]);
  return out;
}

/**
 * The keys the run list can be grouped by: those of `groupFacts` whose value differs across the runs of
 * `index` that record it, yet is shared by some of them (a key with one value, or a distinct value per
 * run, groups nothing). Sorted by name.
 * @param {IndexDoc|null} index
 * @returns {string[]}
 */
export function groupKeys(index) {
  const runs = index ? index.runs : [];
  const values = new Map();
  for (const info of runs) {
    for (const [k, v] of Object.entries(groupFacts(info.run_info))) {
      if (!values.has(k)) values.set(k, []);
      values.get(k).push(JSON.stringify(v));
    }
  }
  const keys = [];
  for (const [k, list] of values) {
    const distinct = new Set(list).size;
    if (distinct > 1 && distinct < list.length) keys.push(k);
  }
  return keys.sort();
}

/**
 * The runs of `index` (in its order, or only `names` when given) grouped by the value of `key` in their
 * `run_info` (`groupFacts`): one group per value, numbers in increasing order, then other values by name,
 * then the runs without the key (`value` null, label "key: not recorded").
 * @param {IndexDoc|null} index
 * @param {string} key
 * @param {string[]} [names]  The runs to group (default every run of `index`).
 * @returns {Array<{value: string|number|boolean|null, label: string, runs: string[]}>}
 * @example groupRuns(index, 'learning_rate')  // [{value: 0.001, label: 'learning_rate = 0.001', runs: [...]}, ...]
 */
export function groupRuns(index, key, names) {
  const infos = index ? index.runs : [];
  const wanted = names ? new Set(names) : null;
  const groups = new Map();
  for (const info of infos) {
    if (wanted && !wanted.has(info.run)) continue;
    const facts = groupFacts(info.run_info);
    const value = key in facts ? facts[key] : null;
    const id = JSON.stringify(value);
    if (!groups.has(id)) groups.set(id, {value, label: value === null ? `${key}: not recorded` : `${key} = ${value}`, runs: []});
    groups.get(id).runs.push(info.run);
  }
  const rank = (g) => (g.value === null ? 2 : typeof g.value === 'number' ? 0 : 1);
  return [...groups.values()].sort((a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    if (rank(a) === 0) return a.value - b.value;
    const x = String(a.value);
    const y = String(b.value);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * The selected runs that `/index` lists, in selection order.
 * @param {IndexDoc|null} index
 * @param {ViewState} state
 * @returns {string[]}
 */
export function selectedRuns(index, state) {
  return state.runs.filter((r) => runInfo(index, r));
}

/**
 * @param {RunInfo|null} info
 * @param {string} kind
 * @returns {TagEntry[]}
 */
export function entriesOf(info, kind) {
  return (info && info.kinds && info.kinds[kind]) || [];
}

/**
 * @param {RunInfo|null} info
 * @param {string} kind
 * @param {string|null} layer
 * @returns {TagEntry|null}
 */
export function entryFor(info, kind, layer) {
  return entriesOf(info, kind).find((e) => e.layer === layer) || null;
}

/**
 * The layers with `kind` data in any of `runs`, in first-seen order.
 * @param {IndexDoc|null} index
 * @param {string} kind
 * @param {string[]} runs
 * @returns {string[]}
 */
export function layersFor(index, kind, runs) {
  const out = [];
  for (const run of runs) for (const e of entriesOf(runInfo(index, run), kind)) if (!out.includes(e.layer)) out.push(e.layer);
  return out;
}

/**
 * How the runs share the layer menu for `kind`: `'layer'` when the runs with `kind` data share at least
 * one layer name (one architecture: the menu names layers, as always, even when the runs wrote different
 * layer sets, as the writer's grown set and a live run at epoch 0 do; a run without the chosen layer says
 * so in its panel), `'stage'` when they share none (different architectures: the menu names a stage, or
 * "Grad-CAM layer", and each run shows its own layer).
 * @param {IndexDoc|null} index
 * @param {string} kind
 * @param {string[]} runs
 * @returns {'layer'|'stage'}
 */
export function alignMode(index, kind, runs) {
  const sets = runs.map((r) => entriesOf(runInfo(index, r), kind).map((e) => e.layer)).filter((s) => s.length);
  if (!sets.length) return 'layer';
  return sets[0].some((layer) => sets.every((s) => s.includes(layer))) ? 'layer' : 'stage';
}

/**
 * The stages of a run (`stages` of `/index`, tb_featureviz/reader/alignment.py); none for an older plugin.
 * @param {RunInfo|null} info
 * @returns {import('./types.js').Stages}
 */
export function stagesOf(info) {
  return (info && info.stages) || {count: 0, list: [], gradcam: null, align: {}};
}

/**
 * The run whose stages the shared stage menu lists: the first of `runs` that has stages.
 * @param {IndexDoc|null} index
 * @param {string[]} runs
 * @returns {RunInfo|null}
 */
export function stageReference(index, runs) {
  for (const r of runs) if (stagesOf(runInfo(index, r)).count) return runInfo(index, r);
  return null;
}

/**
 * `"stage 3 of 5 · 28x28"`.
 * @param {import('./types.js').Stage} stage
 * @param {number} count
 * @returns {string}
 */
export function stageLabel(stage, count) {
  return `stage ${stage.stage} of ${count} · ${stage.height}x${stage.width}`;
}

/**
 * The options of the shared menu in stage mode, as `[value, label]`: the reference run's stages ("k/n"; only
 * those with a layer of the kind, as filters need a filter layer), or the kind's one option where each run
 * shows its own layer (the kind's view `stage`, kinds.js: Grad-CAM's "Grad-CAM layer", value "gradcam").
 * @param {IndexDoc|null} index
 * @param {string} kind
 * @param {string[]} runs
 * @returns {Array<[string, string]>}
 */
export function stageOptions(index, kind, runs) {
  const stage = kindView(kind).stage;
  if (!stage.shared) return [stage.option];
  const st = stagesOf(stageReference(index, runs));
  return st.list.filter((s) => stage.layer(s))
    .map((s) => [`${s.stage}/${st.count}`, stageLabel(s, st.count)]);
}

/**
 * The stage a shared choice "k/n" stands for in `info`'s run (its `align` table), or null.
 * @param {RunInfo|null} info
 * @param {string|null} choice
 * @returns {import('./types.js').Stage|null}
 */
export function alignedStage(info, choice) {
  const m = /^(\d+)\/(\d+)$/.exec(choice || '');
  if (!m) return null;
  const st = stagesOf(info);
  const row = st.align[m[2]];
  const j = row ? row[Number(m[1]) - 1] : null;
  return j ? st.list[j - 1] || null : null;
}

/**
 * The layer the panel of `run` shows: the run's own pick, else the shared layer (one architecture), else
 * the layer of its stage that matches the shared stage (its Grad-CAM layer for Grad-CAM).
 * @param {IndexDoc|null} index
 * @param {ViewState} state
 * @param {string} run
 * @param {string[]} runs  The runs on show (they decide the mode).
 * @returns {string|null}
 */
export function panelLayer(index, state, run, runs) {
  const info = runInfo(index, run);
  const pick = (state.picks || {})[run];
  if (pick && entryFor(info, state.kind, pick)) return pick;
  return sharedLayer(index, state, run, runs);
}

/**
 * The layer the shared menu stands for in `run` (`panelLayer` without the run's own pick).
 * @param {IndexDoc|null} index
 * @param {ViewState} state
 * @param {string} run
 * @param {string[]} runs
 * @returns {string|null}
 */
export function sharedLayer(index, state, run, runs) {
  if (alignMode(index, state.kind, runs) === 'layer') return state.layer;
  const info = runInfo(index, run);
  const view = kindView(state.kind);
  if (!view.stage.shared) return view.stage.runLayer(stagesOf(info));
  const stage = alignedStage(info, state.stage);
  return stage ? view.stage.layer(stage) : null;
}

/**
 * Where `layer` sits in its run: `{stage, count}` (its stage; the filter layer of a stage too), or null.
 * @param {RunInfo|null} info
 * @param {string|null} layer
 * @returns {{stage: import('./types.js').Stage, count: number}|null}
 */
export function stageOfLayer(info, layer) {
  const st = stagesOf(info);
  const stage = st.list.find((s) => s.layers.includes(layer) || s.filters === layer);
  return stage ? {stage, count: st.count} : null;
}

/**
 * The kinds that at least one of `runs` has.
 * @param {IndexDoc|null} index
 * @param {string[]} runs
 * @returns {string[]}
 */
export function kindsAvailable(index, runs) {
  return TAB_KINDS.filter((k) => runs.some((r) => entriesOf(runInfo(index, r), k).length));
}

/**
 * The epochs the slider covers: the union over the selected runs of the chosen tag's steps, else of the
 * curves' steps.
 * @param {IndexDoc|null} index
 * @param {ViewState} state
 * @param {Map<string, ScalarsDoc>} scalars
 * @returns {number[]}  Sorted.
 */
export function epochList(index, state, scalars) {
  const set = new Set();
  const runs = selectedRuns(index, state);
  for (const run of runs) {
    const e = entryFor(runInfo(index, run), state.kind, panelLayer(index, state, run, runs));
    if (e) for (const step of e.steps) set.add(step);
  }
  if (!set.size) {
    for (const run of runs) {
      const sc = scalars.get(run);
      if (sc) for (const series of sc.series) for (const p of series.points) set.add(p[0]);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/**
 * The epoch on show: the newest one while following, otherwise the chosen one.
 * @param {number[]} epochs  What `epochList` returns.
 * @param {ViewState} state
 * @returns {number|null}
 */
export function currentEpoch(epochs, state) {
  if (!epochs.length) return null;
  if (state.follow || state.epoch === null) return epochs[epochs.length - 1];
  return state.epoch;
}

/**
 * What follows "Epoch N" in the epoch bar: " of 0–9" for epochs 0 to 9, " of 0–9 (4 written)" when some
 * epochs between were not written, " (the only one written)" for one epoch, '' for none.
 * @param {number[]} epochs  Sorted.
 * @returns {string}
 */
export function epochRangeText(epochs) {
  if (!epochs.length) return '';
  if (epochs.length === 1) return ' (the only one written)';
  const first = epochs[0];
  const last = epochs[epochs.length - 1];
  const gaps = epochs.length !== last - first + 1 ? ` (${epochs.length} written)` : '';
  return ` of ${first}–${last}${gaps}`;
}

/**
 * The value of `list` nearest to `value` (the first of a tie), or null for an empty list.
 * @param {number[]} list
 * @param {number} value
 * @returns {number|null}
 */
export function nearest(list, value) {
  let best = null;
  for (const v of list) if (best === null || Math.abs(v - value) < Math.abs(best - value)) best = v;
  return best;
}

/**
 * The probe images of `runs`: the largest count, and the first labels and class names given.
 * @param {IndexDoc|null} index
 * @param {string[]} runs
 * @returns {{count: number, labels: Array<number|null>|null, names: string[]|null}}
 */
export function probeInfo(index, runs) {
  let count = 0;
  let labels = null;
  let names = null;
  for (const run of runs) {
    const p = (runInfo(index, run) || {}).probes;
    if (!p) continue;
    count = Math.max(count, p.count || 0);
    labels = labels || p.labels || null;
    names = names || p.class_names || null;
  }
  return {count, labels, names};
}

/**
 * The runs of `runs` that `/index` lists only (`partial`: a sweep's run not read in full yet).
 * @param {IndexDoc} index
 * @param {string[]} runs
 * @returns {string[]}
 */
export function partialRuns(index, runs) {
  return runs.filter((run) => {
    const info = runInfo(index, run);
    return Boolean(info && info.partial);
  });
}

/**
 * The run list's note on a run: its epoch count, "to epoch N" for a run listed only (a sweep's run not
 * read in full yet), or "curves only".
 * @param {RunInfo} info
 * @returns {string}
 */
export function runListNote(info) {
  if (!info.featureviz) return 'curves only';
  if (info.partial) return info.max_step === null || info.max_step === undefined ? 'listed' : `to epoch ${info.max_step}`;
  const n = (info.steps || []).length;
  return `${n} epoch${n === 1 ? '' : 's'}`;
}

/**
 * The run's facts in one line for its panel: model, parameters and what pixels the model takes
 * (`run_info.input_space`, learnt by the writer). '' without a `run_info` record.
 * @param {RunInfo|null} info
 * @returns {string}
 */
export function runFactsLine(info) {
  const ri = (info && info.run_info) || null;
  if (!ri) return '';
  const parts = [];
  if (ri.model) parts.push(String(ri.model));
  if (Number.isInteger(ri.params)) parts.push(`${ri.params.toLocaleString('en-US')} parameters`);
  const space = ri.input_space;
  if (space && space.description) parts.push(`input pixels: ${space.description}`);
  return parts.join(' · ');
}

/**
 * The name of class `c`: from the run's probes, else the tag's `extra.class_names`, else "class c".
 * @param {RunInfo|null} info
 * @param {TagEntry|null} entry
 * @param {number} c
 * @returns {string}
 */
export function className(info, entry, c) {
  const names = (info && info.probes && info.probes.class_names) || (entry && entry.extra && entry.extra.class_names);
  return names && names[c] !== undefined ? String(names[c]) : `class ${c}`;
}

/**
 * Sort order of metric names: loss, accuracy, acc, then the rest by name.
 * @param {string} a
 * @param {string} b
 * @returns {number}
 */
export function metricOrder(a, b) {
  const ia = METRIC_ORDER.indexOf(a);
  const ib = METRIC_ORDER.indexOf(b);
  if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The colour map of Grad-CAM heatmaps: a heatmap in gray is hard to read over a photo.
 * @param {string} cmap
 * @returns {string}
 */
export function camColormap(cmap) {
  return cmap === 'gray' ? 'inferno' : cmap;
}

/**
 * What makes `state` valid for `index`: a run picked once runs appear (unless `didAutoSelect`), a kind,
 * layer and probe that exist, a known colour map.
 * @param {IndexDoc} index
 * @param {ViewState} state
 * @param {boolean} didAutoSelect
 * @returns {Partial<ViewState>}  The keys to change; empty when the state is valid.
 */
export function normalisedPatch(index, state, didAutoSelect) {
  const patch = {};
  const runs = index.runs;
  let selected = selectedRuns(index, state);
  if (!selected.length && runs.length && !didAutoSelect) {
    const first = runs.find((r) => r.featureviz) || runs[0];
    selected = [first.run];
    patch.runs = selected;
  }
  const available = kindsAvailable(index, selected);
  if (available.length && !available.includes(state.kind)) patch.kind = available[0];
  const kind = patch.kind || state.kind;
  const layers = layersFor(index, kind, selected);
  if (layers.length && !layers.includes(state.layer)) patch.layer = layers[0];
  if (kindView(kind).stage.shared && alignMode(index, kind, selected) === 'stage') {
    // The shared stage, in the terms of the first run's stages (the menu lists those).
    const values = stageOptions(index, kind, selected).map(([v]) => v);
    if (values.length && !values.includes(state.stage)) {
      const ref = stageReference(index, selected);
      // No stage yet (an older URL names a layer): the stage of that layer, in the run that has it.
      const owner = selected.map((r) => stageOfLayer(runInfo(index, r), state.layer)).find((x) => x);
      const choice = state.stage || (owner ? `${owner.stage.stage}/${owner.count}` : null);
      const mapped = alignedStage(ref, choice);
      const value = mapped ? `${mapped.stage}/${stagesOf(ref).count}` : null;
      patch.stage = values.includes(value) ? value : values[0];
    }
  }
  const probes = probeInfo(index, selected);
  if (probes.count && state.probe >= probes.count) patch.probe = 0;
  if (!COLORMAPS.includes(state.cmap)) patch.cmap = 'viridis';
  return patch;
}

// -- the same facts for what an App shows now ----------------------------------------------------------

/**
 * @param {App} app
 * @returns {string[]}
 */
export function shownRuns(app) {
  return selectedRuns(app.index, app.store.get());
}

/**
 * The line style of a selected run: by its group when the run list is grouped (`groupSlotStyle` of
 * `app.groupSlots`), else `slotStyle` of its slot in `app.slots` (else of its place among the selected runs); the neutral colour, solid, for a run that is not selected.
 * @param {App} app
 * @param {string} run
 * @returns {{slot: number, color: string, dash: string, dasharray: string}}
 */
export function shownRunStyle(app, run) {
  const grouped = app.store.get().group && app.groupSlots ? app.groupSlots[run] : undefined;
  if (grouped) return groupSlotStyle(grouped[0], grouped[1]);
  const slots = app.slots && run in app.slots ? app.slots : assignSlots(app.slots, shownRuns(app));
  return run in slots ? slotStyle(slots[run]) : {slot: -1, color: UNSELECTED_COLOR, dash: 'solid', dasharray: ''};
}

/**
 * @param {App} app
 * @returns {number[]}
 */
export function shownEpochs(app) {
  return epochList(app.index, app.store.get(), app.scalars);
}

/**
 * @param {App} app
 * @returns {number|null}
 */
export function shownEpoch(app) {
  return currentEpoch(shownEpochs(app), app.store.get());
}
