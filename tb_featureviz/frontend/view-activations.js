// The activations kind's view: a panel shows the activation grid of the chosen layer for the chosen probe
// image; a click on a tile opens it, with its filmstrip across the epochs (gridpanel.js).
//
// What a kind shown as a tab (kinds.js) exports, documented once here:
//   fields          the toolbar fields it uses: {probe, cmap, opacity} (the others are hidden)
//   tileNoun        what a tile is called in the Export menu ("Channel"); null: no drill-down
//   stage           runs of different architectures: {shared: true, layer(stage)}: the menu names a stage and
//                   each run shows `layer` of its matching stage; {shared: false, option, runLayer(stages)}:
//                   one menu entry, each run shows its own layer
//   colormap(s)     the colour map it draws with (null: none)
//   needs(app, run, entry, s)  the image indices a panel loads at an epoch (prefetched alike)
//   render(ctx)     loads and draws a panel (ctx: types.js PanelContext)
// A grid kind (rendered by gridpanel.js showGrid) also exports imageIndex, damagedWhat, opensDrilldown and
// fillFilmstrip.

import {fillFilmstrip as fillTileFilmstrip, showGrid} from './gridpanel.js';
import {probeLabel, tileList} from './records.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').TagEntry} TagEntry
 * @typedef {import('./types.js').ViewState} ViewState
 */

export const fields = {probe: true, cmap: true, opacity: false};
export const tileNoun = 'Channel';
export const stage = {shared: true, layer: (st) => st.activations};

/**
 * @param {ViewState} s
 * @returns {string}
 */
export function colormap(s) {
  return s.cmap;
}

/**
 * The image of the grid: the chosen probe's.
 * @param {ViewState} s
 * @returns {number}
 */
export function imageIndex(s) {
  return s.probe;
}

/**
 * @param {App} app
 * @param {string} run
 * @param {TagEntry} entry
 * @param {ViewState} s
 * @returns {number[]}
 */
export function needs(app, run, entry, s) {
  return [imageIndex(s)];
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
  return `The activation grid of ${probeLabel(s.probe)} at epoch ${epoch}`;
}

/**
 * Whether the open channel gets a drill-down: when a tile shows it, or the grid is reduced (it then says
 * the channel is not in the grid).
 * @param {Object} record
 * @param {number|null} openTile
 * @returns {boolean}
 */
export function opensDrilldown(record, openTile) {
  return openTile !== null || Boolean(tileList('activations', record));
}

/**
 * The open tile's filmstrip: the same tile at every epoch (channels never move).
 * @param {{app: App, dd: {strip: HTMLElement}, run: string, entry: TagEntry, imageIndex: number,
 *     tile: number|null, cmap: string|null, epoch: number}} d
 */
export function fillFilmstrip({app, dd, run, entry, imageIndex, tile, cmap, epoch}) {
  if (tile !== null) fillTileFilmstrip(app, dd, run, entry, imageIndex, tile, cmap, epoch);
}
