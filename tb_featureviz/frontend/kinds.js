// The summary kinds the dashboard shows, one line each, in display order: the one table that lists and
// labels them. Each kind's behaviour is its own view module (view-<name>.js); the rest of the page asks
// this table (`kindView`, `kindsAt`) instead of testing kind names.
//
// Adding a kind to the dashboard: write view-<name>.js (a `place` and what that place asks of it, below)
// and add its line here. tests/test_kind_table.py checks the lines against the Python registry
// (tb_featureviz.kinds.REGISTRY): name, label and noun must agree.
//
// Where a kind is shown (`place`), and what its view module then exports:
//   'tab'        a button of the toolbar; every panel shows it (view-activations.js documents the members:
//                fields, tileNoun, stage, colormap, needs, render)
//   'drilldown'  a block of the enlarged tile of a grid kind: fillDrilldown(dd, ctx)
//   'charts'     charts beside the curves: chartSpecs(scalars, runs, colorOf)
//
// Only literals at the top level: the view modules import modules that import this one, so nothing here may
// read a view module's exports until the page runs.

import * as activations from './view-activations.js';
import * as checks from './view-checks.js';
import * as exemplars from './view-exemplars.js';
import * as filters from './view-filters.js';
import * as gradcam from './view-gradcam.js';

/**
 * One kind of the dashboard.
 * @typedef {Object} KindEntry
 * @property {string} name  The kind's name in the URL, `/index` and the Python registry.
 * @property {string} label  Its name on the page (a toolbar button, the export summary).
 * @property {string} noun  Its plural noun in messages ("No activation grids at epoch 3").
 * @property {'tab'|'drilldown'|'charts'} place  Where the page shows it.
 * @property {Object} view  Its view module.
 */

/** @type {KindEntry[]} */
export const KIND_VIEWS = [
  {name: 'activations', label: 'Activations', noun: 'activation grids', place: 'tab', view: activations},
  {name: 'filters', label: 'Filter patterns', noun: 'filter patterns', place: 'tab', view: filters},
  {name: 'gradcam', label: 'Grad-CAM', noun: 'Grad-CAM heatmaps', place: 'tab', view: gradcam},
  {name: 'exemplars', label: 'Exemplars', noun: 'exemplars', place: 'drilldown', view: exemplars},
  {name: 'checks', label: 'Grad-CAM checks', noun: 'Grad-CAM checks', place: 'charts', view: checks},
];

/** The kinds a person switches between in the toolbar (the view state's `kind`), in display order. */
export const TAB_KINDS = KIND_VIEWS.filter((k) => k.place === 'tab').map((k) => k.name);
/** Each kind's label. */
export const KIND_LABELS = Object.fromEntries(KIND_VIEWS.map((k) => [k.name, k.label]));
/** Each kind's plural noun, for messages. */
export const KIND_NOUN = Object.fromEntries(KIND_VIEWS.map((k) => [k.name, k.noun]));

/**
 * The entries shown at `place`, in display order.
 * @param {'tab'|'drilldown'|'charts'} place
 * @returns {KindEntry[]}
 */
export function kindsAt(place) {
  return KIND_VIEWS.filter((k) => k.place === place);
}

/**
 * The view module of kind `name` (null for a kind the dashboard does not show).
 * @param {string} name
 * @returns {Object|null}
 */
export function kindView(name) {
  const entry = KIND_VIEWS.find((k) => k.name === name);
  return entry ? entry.view : null;
}
