// What the view can show, derived from the `/index` document, the view state and the curves. Pure: each
// function reads only its arguments (the `shown*` helpers read an App without changing it); nothing here
// touches the DOM or the network.

import {COLORMAPS} from './colormap.js';
import {KINDS} from './state.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').IndexDoc} IndexDoc
 * @typedef {import('./types.js').RunInfo} RunInfo
 * @typedef {import('./types.js').ScalarsDoc} ScalarsDoc
 * @typedef {import('./types.js').TagEntry} TagEntry
 * @typedef {import('./types.js').ViewState} ViewState
 */

/** Run colours, in the order of `/index`'s runs. */
export const PALETTE = ['#1a73e8', '#e8710a', '#12a4b5', '#d01884', '#7b3fe4', '#c58b00', '#3c9a3c', '#8d5b4c',
  '#5f6368', '#c5221f', '#0d652d', '#174ea6'];
const METRIC_ORDER = ['loss', 'accuracy', 'acc'];
/** The plural noun of each kind, for messages. */
export const KIND_NOUN = {activations: 'activation grids', filters: 'filter patterns', gradcam: 'Grad-CAM heatmaps'};

/**
 * @param {IndexDoc|null} index
 * @param {string} run
 * @returns {RunInfo|null}
 */
export function runInfo(index, run) {
  return index ? index.runs.find((r) => r.run === run) || null : null;
}

/**
 * The colour of `run`: its place in `/index` picks a palette entry.
 * @param {IndexDoc|null} index
 * @param {string} run
 * @returns {string}
 */
export function runColor(index, run) {
  const i = index ? index.runs.findIndex((r) => r.run === run) : -1;
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
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
 * The options of the shared menu in stage mode, as `[value, label]`: the reference run's stages ("k/n";
 * for filters only those with a filter layer), or one "Grad-CAM layer" option (value "gradcam").
 * @param {IndexDoc|null} index
 * @param {string} kind
 * @param {string[]} runs
 * @returns {Array<[string, string]>}
 */
export function stageOptions(index, kind, runs) {
  if (kind === 'gradcam') return [['gradcam', 'Grad-CAM layer (each run its own)']];
  const st = stagesOf(stageReference(index, runs));
  return st.list.filter((s) => kind !== 'filters' || s.filters)
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
  if (state.kind === 'gradcam') return stagesOf(info).gradcam;
  const stage = alignedStage(info, state.stage);
  return stage ? (state.kind === 'filters' ? stage.filters : stage.activations) : null;
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
  return KINDS.filter((k) => runs.some((r) => entriesOf(runInfo(index, r), k).length));
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
  if (kind !== 'gradcam' && alignMode(index, kind, selected) === 'stage') {
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
