// The activations kind's view: a panel shows the activation grid of the chosen layer for the chosen probe
// image; a click on a tile opens it, with its filmstrip across the epochs (gridpanel.js, grid.js).
//
// What a kind shown as a tab (kinds.js) exports, documented once here:
//   fields          the toolbar fields it uses: {probe, cmap, opacity} (the others are hidden)
//   tileNoun        what a tile is called ("Channel"); null: no tiles, no drill-down
//   stage           runs of different architectures: {shared: true, layer(stage)}: the menu names a stage and
//                   each run shows `layer` of its matching stage; {shared: false, option, runLayer(stages)}:
//                   one menu entry, each run shows its own layer
//   colormap(s)     the colour map it draws with (null: none)
//   needs(app, run, entry, s)  the image indices a panel loads at an epoch (prefetched alike)
//   render(ctx)     loads and draws a panel (ctx: types.js PanelContext)
// A grid kind (drawn by gridpanel.js showGrid and grid.js) also exports what reads its record: imageIndex,
// damagedWhat, tiles, deadChannels, gridSummary, relativeNote, tileShape, tileDetails, opensDrilldown,
// missingTile, stripWithoutTile and fillFilmstrip.

import {fillFrames, showGrid} from './gridpanel.js';
import {fetchSeries} from './model.js';
import {listed, probeLabel, shrinkText} from './records.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').ActivationRecord} ActivationRecord
 * @typedef {import('./types.js').GridLayout} GridLayout
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
 * The channel of each tile of a reduced grid (null: tile k shows channel k).
 * @param {ActivationRecord|null} record
 * @returns {number[]|null}
 */
export function tiles(record) {
  return listed(record, 'channels');
}

/**
 * The channels that are zero for every probe image.
 * @param {ActivationRecord} record
 * @returns {number[]}
 */
export function deadChannels(record) {
  return record.dead || [];
}

/**
 * What the grid shows: "400 of 512 channels (most variable), tiles 8×8 of 30×30 (1/4)" for a reduced grid.
 * @param {ActivationRecord} record
 * @param {GridLayout|null} layout
 * @param {number} count  Tiles in the grid.
 * @returns {string}
 */
export function gridSummary(record, layout, count) {
  const shape = record.shape || [];
  const total = shape.length === 3 ? shape[2] : count;
  const list = tiles(record);
  const shown = list ? list.length : count;
  const text = list && shown < total ? `${shown} of ${total} channels (most variable)` : `${shown} channels`;
  return text + shrinkText(record.scale, layout, shape[0], shape[1]);
}

/**
 * No relative-activation figure under an activation grid.
 * @returns {null}
 */
export function relativeNote() {
  return null;
}

/**
 * A tile's size before any shrinking: the feature map's.
 * @param {ActivationRecord} record
 * @returns {[number, number]}
 */
export function tileShape(record) {
  const shape = record.shape || [];
  return [shape[0], shape[1]];
}

/**
 * The facts of an enlarged tile after its size: the probe, and whether the channel is dead.
 * @param {{record: ActivationRecord, channel: number, probe: number}} t
 * @returns {string[]}
 */
export function tileDetails({record, channel, probe}) {
  const facts = [probeLabel(probe)];
  if ((record.dead || []).includes(channel)) facts.push('dead: zero for every probe image');
  return facts;
}

/**
 * Whether the open channel gets a drill-down: when a tile shows it, or the grid is reduced (it then says
 * the channel is not in the grid).
 * @param {ActivationRecord} record
 * @param {number|null} openTile
 * @returns {boolean}
 */
export function opensDrilldown(record, openTile) {
  return openTile !== null || Boolean(tiles(record));
}

/**
 * The drill-down's note when no tile shows the channel: `[title, text]`.
 * @param {{channel: number, record: ActivationRecord, layout: GridLayout}} t
 * @returns {[string, string]}
 */
export function missingTile({channel, record, layout}) {
  return [`Channel ${channel} is not in this grid`, `The grid shows ${gridSummary(record, layout, layout.count)}.`];
}

/** Without a tile the drill-down has no filmstrip (a channel not in the grid is in none of them). */
export const stripWithoutTile = false;

/**
 * The open tile's filmstrip: the same tile at every epoch (channels never move).
 * @param {{app: App, dd: {strip: HTMLElement}, run: string, entry: TagEntry, imageIndex: number,
 *     tile: number|null, cmap: string|null, epoch: number}} d
 */
export async function fillFilmstrip({app, dd, run, entry, imageIndex, tile, cmap, epoch}) {
  if (tile === null) return;
  let steps = entry.steps;
  let urls = null;
  try {
    const series = await fetchSeries(run, entry.tag, imageIndex, entry.steps.length);
    steps = series.steps;
    urls = series.images;
  } catch (e) {
    urls = null; // Fall back to one /step request per epoch.
  }
  const items = steps.map((step, i) => ({step, url: urls ? urls[i] : null, tile}));
  await fillFrames(app, dd.strip, run, entry, imageIndex, cmap, epoch, items);
}
