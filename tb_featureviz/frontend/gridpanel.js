// The grid kinds' panel (activations and filter patterns, view-activations.js and view-filters.js): loads
// and draws a grid, the drill-down of its open tile, and the frames of the tile's filmstrip (which frames:
// the kind's view). The DOM is grid.js's.

import {pickEpoch} from './controls.js';
import {syncExport} from './exporting.js';
import {runInfo} from './facts.js';
import {drilldownView, filmstrip, frameCanvas, gridView} from './grid.js';
import {kindsAt, kindView} from './kinds.js';
import {fetchStep, loadImage, loadStep} from './model.js';
import {probeLabel} from './records.js';
import * as views from './views.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').PanelContext} PanelContext
 * @typedef {import('./types.js').TagEntry} TagEntry
 */

/**
 * Draws the panel's grid of a grid kind (its view module: `imageIndex`, `colormap`, `damagedWhat`,
 * `opensDrilldown`, `fillFilmstrip`), and the drill-down of the open channel with the drill-down kinds'
 * blocks.
 * @param {PanelContext} ctx
 */
export async function showGrid({app, p, run, entry, epoch, show, stale, drawn}) {
  const s = app.store.get();
  const view = kindView(s.kind);
  const imageIndex = view.imageIndex(s);
  const loaded = loadStep(run, entry.tag, epoch, [imageIndex], {droppable: true});
  const step = await loaded.doc;
  if (stale()) return;
  const url = step.images[imageIndex];
  if (!url) {
    show([views.message(`No image for ${probeLabel(s.probe)} at epoch ${epoch}`, '')], entry.layer);
    return;
  }
  let img;
  try {
    img = await loaded.images[0];
  } catch (e) {
    if (!(e && e.damaged)) throw e;
    if (stale()) return;
    show([views.damagedTile(view.damagedWhat(s, epoch), e.message)], `${entry.layer} · epoch ${epoch} · damaged`);
    return;
  }
  if (stale()) return;
  const layout = entry.layout;
  const record = step.record || {};
  const cmap = view.colormap(s);
  const onClose = () => app.store.set({channel: null});
  const grid = gridView({img, kind: s.kind, layer: entry.layer, epoch, layout, record, probe: s.probe, cmap,
    channel: s.channel, onPick: (channel) => app.store.set({channel}), onClose});
  const detail = [];
  if (layout && s.channel !== null && view.opensDrilldown(record, grid.openTile)) {
    const dd = drilldownView({kind: s.kind, layer: entry.layer, epoch, record, layout, img, tile: grid.openTile,
      channel: s.channel, probe: s.probe, cmap, onClose});
    view.fillFilmstrip({app, dd, run, entry, imageIndex, tile: grid.openTile, channel: s.channel, cmap, epoch});
    for (const k of kindsAt('drilldown')) k.view.fillDrilldown(dd, run, runInfo(app.index, run), entry.layer, s.channel, epoch);
    detail.push(dd.element);
  }
  show([grid.element], `${entry.layer} · epoch ${epoch}`, detail);
  // The room a grid may take is measured once per panel layout (a measure per draw forces a layout of the
  // page per panel while scrubbing); a resize or a new set of panels measures it again.
  if (!p.zoomRoom) p.zoomRoom = views.zoomRoom(grid.canvas);
  views.applyZoom(grid.canvas, app.store.get().zoom, p.zoomRoom);
  if (stale()) return;
  p.channelShown = grid.openTile !== null ? s.channel : null;
  syncExport(app);
  drawn();
}

/**
 * Fills a filmstrip with one frame per item: that tile of that epoch's grid (its URL asked of /step when
 * the item has none).
 * @param {App} app
 * @param {HTMLElement} strip
 * @param {string} run
 * @param {TagEntry} entry
 * @param {number} imageIndex
 * @param {string|null} cmap
 * @param {number} epoch
 * @param {Array<{step: number, url: string|null, tile: number}>} items
 */
export async function fillFrames(app, strip, run, entry, imageIndex, cmap, epoch, items) {
  const frames = filmstrip(strip, items, epoch, (e) => pickEpoch(app, e));
  await Promise.all(frames.map(async (f) => {
    try {
      const url = f.url || (await fetchStep(run, entry.tag, f.step)).images[imageIndex];
      const img = await loadImage(url);
      f.slot.replaceChildren(frameCanvas(img, entry.layout, f.tile, cmap));
    } catch (e) {
      if (e && e.damaged) f.slot.replaceChildren(views.damagedTile(`Epoch ${f.step}`, e.message, {small: true}));
      else f.slot.textContent = '–';
    }
  }));
}

