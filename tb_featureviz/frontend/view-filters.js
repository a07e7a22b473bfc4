// The filter patterns kind's view: a panel shows the filter-pattern grid of the chosen layer; a click on a
// tile opens the filter, with its pattern at every epoch that drew it (gridpanel.js, grid.js). Its members
// are those of a grid kind (view-activations.js documents them).

import {fillFrames, showGrid} from './gridpanel.js';
import {fetchStep} from './model.js';
import {listed, ratioText, relativeText, rotating, shrinkText, span, tileChannel, tileOf} from './records.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').FilterRecord} FilterRecord
 * @typedef {import('./types.js').GridLayout} GridLayout
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
 * The filter of each tile (a rotation draws a window of the layer's filters; null: tile k is filter k).
 * @param {FilterRecord|null} record
 * @returns {number[]|null}
 */
export function tiles(record) {
  return listed(record, 'filters');
}

/**
 * Filters have no dead channels.
 * @returns {number[]}
 */
export function deadChannels() {
  return [];
}

/**
 * What the grid shows: "filters 0–127 of 512 (+16 fixed), next 128–255 at epoch 10" under a rotation.
 * @param {FilterRecord} record
 * @param {GridLayout|null} layout
 * @param {number} count  Tiles in the grid.
 * @returns {string}
 */
export function gridSummary(record, layout, count) {
  const sch = record.schedule;
  let text = `${count} filters`;
  if (rotating(sch)) {
    text = `filters ${span(sch.window)} of ${sch.of}${sch.fixed ? ` (+${sch.fixed} fixed)` : ''}`;
    if (Array.isArray(sch.next)) {
      const when = sch.next_epoch === null || sch.next_epoch === undefined ? 'when the budget has room' : `at epoch ${sch.next_epoch}`;
      text += `, next ${span(sch.next)} ${when}`;
    }
  }
  return text + shrinkText(record.scale, layout, record.size, record.size);
}

/**
 * The same figure for the filter of tile `k` alone: "filter 7: pattern 5.0× the probes' mean activation",
 * or null when the record does not say.
 * @param {Object|null} record  A filter record (`relative`, per tile).
 * @param {number} k
 * @returns {string|null}
 */
function tileRelativeText(record, k) {
  const list = record && Array.isArray(record.relative) ? record.relative : null;
  if (!list || k >= list.length) return null;
  const v = list[k];
  const name = `filter ${tileChannel(tiles(record), k)}`;
  if (v === null) return `${name}: the probes leave it silent, so it has no ratio`;
  return typeof v === 'number' ? `${name}: pattern ${ratioText(v)}× the probes' mean activation` : null;
}

/**
 * One relative-activation figure under the grid: the open filter's own, else the layer's median.
 * @param {FilterRecord} record
 * @param {number|null} openTile
 * @returns {string|null}
 */
export function relativeNote(record, openTile) {
  return (openTile !== null ? tileRelativeText(record, openTile) : null) || relativeText(record);
}

/**
 * A tile's size before any shrinking: the pattern's.
 * @param {FilterRecord} record
 * @returns {[number, number]}
 */
export function tileShape(record) {
  return [record.size, record.size];
}

/**
 * The facts of an enlarged tile after its size: its mean activation, whether it is a fixed filter.
 * @param {{record: FilterRecord, tile: number}} t
 * @returns {string[]}
 */
export function tileDetails({record, tile}) {
  const facts = [];
  if (record.activation && record.activation[tile] !== undefined) {
    const value = record.activation[tile];  // null: non-finite (a diverged model)
    facts.push(value === null ? 'mean activation non-finite (NaN or inf)' : `mean activation ${Number(value).toPrecision(4)}`);
  }
  if (record.schedule && tile < (record.schedule.fixed || 0)) facts.push('one of the fixed filters, drawn at every pass');
  return facts;
}

/**
 * The open filter always gets a drill-down (a rotation may leave it out of this epoch's grid: it says so).
 * @returns {boolean}
 */
export function opensDrilldown() {
  return true;
}

/**
 * The drill-down's note when this epoch's grid did not draw the filter: `[title, text]`.
 * @param {{channel: number, epoch: number, record: FilterRecord}} t
 * @returns {[string, string]}
 */
export function missingTile({channel, epoch, record}) {
  const sch = record.schedule;
  const fixed = sch && sch.fixed ? ` and ${sch.fixed} fixed ones` : '';
  const drew = rotating(sch) ? `This epoch drew filters ${span(sch.window)} of ${sch.of}${fixed}.` : '';
  return [`Filter ${channel} was not drawn at epoch ${epoch}`, `${drew} The frames below are the epochs that drew it.`.trim()];
}

/** Without a tile the drill-down still has its filmstrip: the epochs that drew the filter. */
export const stripWithoutTile = true;

/**
 * The open filter's filmstrip: at each epoch the tile that drew it; epochs whose rotation left it out are
 * skipped.
 * @param {{app: App, dd: {strip: HTMLElement, label: HTMLElement}, run: string, entry: TagEntry,
 *     channel: number, epoch: number}} d
 */
export async function fillFilmstrip({app, dd, run, entry, channel: filter, epoch}) {
  const steps = await Promise.all(entry.steps.map((step) => fetchStep(run, entry.tag, step).catch(() => null)));
  const items = [];
  for (const [i, step] of entry.steps.entries()) {
    const data = steps[i];
    const tile = data ? tileOf(tiles(data.record || {}), filter, entry.layout.count) : null;
    if (tile !== null && data.images[0]) items.push({step, url: data.images[0], tile});
  }
  const skipped = entry.steps.length - items.length;
  if (!items.length) dd.label.textContent = `No epoch drew filter ${filter}`;
  else if (skipped) dd.label.textContent = `Epochs that drew filter ${filter} (${items.length} of ${entry.steps.length}; click a frame to go there)`;
  await fillFrames(app, dd.strip, run, entry, 0, null, epoch, items);
}
