// The filter patterns kind's view: a panel shows the filter-pattern grid of the chosen layer; a click on a
// tile opens the filter, with its pattern at every epoch that drew it (gridpanel.js). Its members are those
// of a grid kind (view-activations.js documents them).

import {fillFilterFilmstrip, showGrid} from './gridpanel.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').TagEntry} TagEntry
 * @typedef {import('./types.js').ViewState} ViewState
 */

export const fields = {probe: false, cmap: false, opacity: false};
export const tileNoun = 'Filter';
export const stage = {shared: true, layer: (st) => st.filters};

/**
 * Filter patterns are RGB: no colour map.
 * @returns {null}
 */
export function colormap() {
  return null;
}

/**
 * The image of the grid: a filter grid has one.
 * @returns {number}
 */
export function imageIndex() {
  return 0;
}

/**
 * @returns {number[]}
 */
export function needs() {
  return [0];
}

/**
 * @param {import('./types.js').PanelContext} ctx
 * @returns {Promise<void>}
 */
export function render(ctx) {
  return showGrid(ctx);
}

/**
 * What a damaged grid image is called.
 * @param {ViewState} s
 * @param {number} epoch
 * @returns {string}
 */
export function damagedWhat(s, epoch) {
  return `The filter patterns at epoch ${epoch}`;
}

/**
 * The open filter always gets a drill-down (a rotation may leave it out of this epoch's grid: it says so).
 * @returns {boolean}
 */
export function opensDrilldown() {
  return true;
}

/**
 * The open filter's filmstrip: at each epoch the tile that drew it.
 * @param {{app: App, dd: {strip: HTMLElement, label: HTMLElement}, run: string, entry: TagEntry,
 *     channel: number, epoch: number}} d
 */
export function fillFilmstrip({app, dd, run, entry, channel, epoch}) {
  fillFilterFilmstrip(app, dd, run, entry, channel, epoch);
}
