// DOM of an activation or filter grid: the colourised grid canvas with its caption and tile interaction
// (click, hover, arrow keys), the drill-down of one channel or filter, and its filmstrip frames. Nothing
// here fetches or holds state: it takes decoded images and records, and reports picks through callbacks.

import {colorizedCanvas, cssColour, lowestColourName, SEPARATOR_RGB} from './colormap.js';
import {tileAt, tileRect} from './layout.js';
import {KIND_LABELS, kindView} from './kinds.js';
import {nonfiniteText, probeLabel, RELATIVE_MEANING, tileChannel, tileName, tileOf} from './records.js';
import {h, message, nonfiniteNote} from './views.js';

/**
 * @typedef {import('./types.js').GridLayout} GridLayout
 * @typedef {import('./records.js').GridRecord} GridRecord
 */

/**
 * Places `box` (a highlight or focus frame over the canvas) on tile `k`, in percent of the canvas;
 * hides it for no tile.
 * @param {HTMLElement} box
 * @param {HTMLCanvasElement} canvas
 * @param {GridLayout} layout
 * @param {number|null|undefined} k
 */
function placeBox(box, canvas, layout, k) {
  if (k === null || k === undefined || k >= layout.count) {
    box.hidden = true;
    return;
  }
  const [x, y, w, hgt] = tileRect(layout, k);
  box.hidden = false;
  box.style.left = `${(x / canvas.width) * 100}%`;
  box.style.top = `${(y / canvas.height) * 100}%`;
  box.style.width = `${(w / canvas.width) * 100}%`;
  box.style.height = `${(hgt / canvas.height) * 100}%`;
}

/**
 * The tile under a mouse event on `canvas`, or null.
 * @param {MouseEvent} event
 * @param {HTMLCanvasElement} canvas
 * @param {GridLayout} layout
 * @returns {number|null}
 */
function tileOfEvent(event, canvas, layout) {
  const r = canvas.getBoundingClientRect();
  return tileAt(layout, ((event.clientX - r.left) / r.width) * canvas.width, ((event.clientY - r.top) / r.height) * canvas.height);
}

/**
 * A grid (canvas) in a positioned box, with a highlight box (the open tile) and a focus box.
 * @param {HTMLCanvasElement} canvas
 * @param {string} caption
 * @returns {{element: HTMLElement, frame: HTMLElement, highlight: HTMLElement, focus: HTMLElement}}
 */
function gridFigure(canvas, caption) {
  const highlight = h('div', {class: 'tile-highlight', hidden: true});
  const focus = h('div', {class: 'tile-focus', hidden: true});
  const frame = h('div', {class: 'grid-frame'}, canvas, highlight, focus);
  const element = h('figure', {class: 'grid-figure'}, h('div', {class: 'grid-scroll'}, frame),
    caption ? h('figcaption', {text: caption}) : null);
  return {element, frame, highlight, focus};
}

/**
 * Makes the tiles of a grid canvas pickable: click, hover title, arrow keys with a focus box, Enter.
 * @param {HTMLCanvasElement} canvas
 * @param {{highlight: HTMLElement, focus: HTMLElement}} fig
 * @param {Object} grid
 * @param {string} grid.noun  What a tile is called ("Channel", "Filter").
 * @param {number[]|null} grid.list  The record's tile list.
 * @param {GridLayout} grid.layout
 * @param {number|null} grid.openTile
 * @param {(k: number) => boolean} grid.isDead
 * @param {(channel: number) => void} grid.onPick
 * @param {() => void} grid.onClose
 */
function wireTiles(canvas, fig, {noun, list, layout, openTile, isDead, onPick, onClose}) {
  const count = layout.count;
  let focusK = openTile !== null ? openTile : 0;
  placeBox(fig.highlight, canvas, layout, openTile);
  const pick = (k) => onPick(tileChannel(list, k));
  canvas.addEventListener('click', (event) => {
    const k = tileOfEvent(event, canvas, layout);
    if (k !== null) pick(k);
  });
  canvas.addEventListener('mousemove', (event) => {
    const k = tileOfEvent(event, canvas, layout);
    canvas.title = k === null ? '' : `${tileName(noun, list, k)}${isDead(k) ? ' (dead)' : ''} — click to enlarge`;
    canvas.style.cursor = k === null ? 'default' : 'pointer';
  });
  canvas.addEventListener('focus', () => placeBox(fig.focus, canvas, layout, focusK));
  canvas.addEventListener('blur', () => { fig.focus.hidden = true; });
  canvas.addEventListener('keydown', (event) => {
    const moves = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: -layout.cols, ArrowDown: layout.cols};
    if (event.key in moves) {
      focusK = Math.max(0, Math.min(count - 1, focusK + moves[event.key]));
      placeBox(fig.focus, canvas, layout, focusK);
      canvas.setAttribute('aria-label', `${tileName(noun, list, focusK)} selected. Press Enter to open it.`);
      event.preventDefault();
    } else if (event.key === 'Enter' || event.key === ' ') {
      pick(focusK);
      event.preventDefault();
    } else if (event.key === 'Escape') {
      onClose();
    }
  });
}

/**
 * Marks the dead tiles of a grid (channels that are zero for every probe image) with a dashed outline over
 * the canvas; the canvas keeps its pixels.
 * @param {HTMLElement} frame  The grid's positioned box.
 * @param {HTMLCanvasElement} canvas
 * @param {GridLayout} layout
 * @param {number[]} tiles  The dead tiles.
 */
function markDead(frame, canvas, layout, tiles) {
  for (const k of tiles) {
    const mark = h('div', {class: 'dead-mark', dataset: {tile: String(k)}});
    placeBox(mark, canvas, layout, k);
    frame.appendChild(mark);
  }
}

/**
 * The legend under a grid: what its colours mean. A colourised activation grid names the colour map's
 * lowest colour (a channel with no variation for this probe, dead ones too), the dead-channel mark when
 * the grid shows dead channels, and the neutral gray of the separators and empty cells.
 * @param {string|null} cmap  The colour map; null for RGB filter patterns.
 * @param {number} deadShown  Dead tiles in the grid.
 * @param {boolean} empty  Whether the grid has empty cells.
 * @returns {HTMLElement}
 */
export function gridLegend(cmap, deadShown, empty) {
  const item = (swatch, text, name) => h('li', {class: 'legend-entry', dataset: {entry: name}}, swatch, h('span', {text}));
  const swatch = (css, extra = '') => h('span', {class: `legend-swatch${extra}`, style: {background: css}, 'aria-hidden': 'true'});
  const items = [];
  if (cmap) {
    items.push(item(swatch(cssColour(cmap, 0)), `${lowestColourName(cmap)}: no variation (the channel is constant for this probe image)`, 'constant'));
    if (deadShown) items.push(item(swatch(cssColour(cmap, 0), ' dead'), `dashed outline: dead, zero for every probe image (${deadShown} shown)`, 'dead'));
  }
  items.push(item(swatch(`rgb(${SEPARATOR_RGB.join(', ')})`), `light gray: separators${empty ? ' and empty cells' : ''} (no data)`, 'separator'));
  return h('ul', {class: 'grid-legend', 'aria-label': 'What the colours mean'}, ...items);
}

/**
 * The figure of one grid image: the colourised canvas, a caption of what it shows, the non-finite
 * warning, and (with a layout) pickable tiles with the open channel highlighted.
 * @param {Object} g
 * @param {HTMLImageElement|ImageBitmap} g.img  The decoded grid PNG.
 * @param {string} g.kind  A grid kind (its view module: view-activations.js, view-filters.js).
 * @param {string} g.layer
 * @param {number} g.epoch
 * @param {GridLayout|null} g.layout
 * @param {GridRecord} g.record
 * @param {number} g.probe
 * @param {string|null} g.cmap  Colour map of a grayscale grid, null for RGB filter patterns.
 * @param {number|null} g.channel  The open channel or filter.
 * @param {(channel: number) => void} g.onPick
 * @param {() => void} g.onClose
 * @returns {{element: HTMLElement, canvas: HTMLCanvasElement, openTile: number|null}}
 */
export function gridView({img, kind, layer, epoch, layout, record, probe, cmap, channel, onPick, onClose}) {
  const canvas = colorizedCanvas(img, cmap, null, layout);
  canvas.className = 'grid-canvas zoomable';
  canvas.tabIndex = 0;
  canvas.dataset.ownKeys = '1';
  canvas.dataset.naturalWidth = String(img.naturalWidth || img.width);
  canvas.dataset.naturalHeight = String(img.naturalHeight || img.height);
  const view = kindView(kind);
  const list = view.tiles(record);
  const count = layout ? layout.count : 0;
  const noun = view.tileNoun.toLowerCase();
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${KIND_LABELS[kind]} of ${layer}, epoch ${epoch}: ${count} ${noun}s. ` +
    `Arrow keys choose a ${noun}, Enter opens it.`);
  const dead = new Set(view.deadChannels(record));
  const isDead = (k) => dead.has(tileChannel(list, k));
  const captionBits = [view.gridSummary(record, layout, count), `${img.naturalWidth || img.width}×${img.naturalHeight || img.height} px`];
  if (dead.size) {
    const shown = list ? list.filter((c) => dead.has(c)).length : dead.size;
    captionBits.push(`${dead.size} dead (all zero)${shown < dead.size ? `, ${shown || 'none'} shown` : ''}`);
  }
  if (view.fields.probe) captionBits.push(probeLabel(probe));  // a grid of the probe image on show
  const fig = gridFigure(canvas, captionBits.join(' · '));
  const openTile = layout ? tileOf(list, channel, count) : null;
  const deadTiles = layout ? Array.from({length: count}, (_, k) => k).filter(isDead) : [];
  if (layout) {
    markDead(fig.frame, canvas, layout, deadTiles);
    fig.element.appendChild(gridLegend(cmap, deadTiles.length, layout.rows * layout.cols > count));
  }
  const relative = view.relativeNote(record, openTile);
  if (relative) fig.element.appendChild(h('p', {class: 'relative-note', title: RELATIVE_MEANING, text: relative}));
  const nonfinite = nonfiniteNote(nonfiniteText(record));
  if (nonfinite) fig.element.appendChild(nonfinite);
  if (layout) wireTiles(canvas, fig, {noun: view.tileNoun, list, layout, openTile, isDead, onPick, onClose});
  return {element: fig.element, canvas, openTile};
}

/**
 * Tile `k` of a grid image, colourised, on a canvas of the tile's size.
 * @param {HTMLImageElement|ImageBitmap} img
 * @param {GridLayout} layout
 * @param {number} k
 * @param {string|null} cmap
 * @returns {HTMLCanvasElement}
 */
function cropTile(img, layout, k, cmap) {
  return colorizedCanvas(img, cmap, tileRect(layout, k));
}

/**
 * The drill-down box: a heading, a close button, the enlarged tile, a place for the channel's exemplars
 * (filled later, hidden until then), its facts, a label and a filmstrip.
 * @param {string} title
 * @param {() => void} onClose
 */
function drilldownBox(title, onClose) {
  const big = h('div', {class: 'drill-big'});
  const exemplars = h('div', {class: 'drill-exemplars', hidden: true});
  const strip = h('ol', {class: 'filmstrip', 'aria-label': 'One frame per epoch'});
  const info = h('p', {class: 'drill-info'});
  const label = h('p', {class: 'drill-label', text: 'Across epochs (click a frame to go there)'});
  const close = h('button', {type: 'button', class: 'icon-btn close', 'aria-label': 'Close the enlarged view', title: 'Close (Esc)', text: '✕'});
  close.addEventListener('click', onClose);
  const element = h('div', {class: 'drilldown'},
    h('div', {class: 'drill-head'}, h('h3', {text: title}), close),
    h('div', {class: 'drill-main'}, big, exemplars, info),
    label, strip);
  return {element, big, exemplars, strip, info, label};
}

/**
 * The facts under an enlarged tile: its epoch, its size, then the kind's own (view `tileDetails`: the probe,
 * dead, mean activation, fixed filter).
 * @returns {string[]}
 */
function tileFacts({view, record, layout, tile, channel, probe, epoch, bigZoom}) {
  const facts = [`epoch ${epoch}`];
  const [h_, w] = view.tileShape(record);
  const shrunk = record.scale > 1 ? ` (1/${record.scale} of ${w}×${h_})` : '';
  facts.push(`${layout.tile_width}×${layout.tile_height} px${shrunk} shown at ${bigZoom}×`);
  facts.push(...view.tileDetails({record, tile, channel, probe}));
  return facts;
}

/**
 * The drill-down of channel (or filter) `channel`: the enlarged tile `tile` of this epoch's grid, or a
 * note when this epoch's grid does not draw it. Its filmstrip (`strip`, `label`) is left for the caller
 * to fill with `filmstrip`.
 * @param {Object} d
 * @param {string} d.kind
 * @param {string} d.layer
 * @param {number} d.epoch
 * @param {GridRecord} d.record
 * @param {GridLayout} d.layout
 * @param {HTMLImageElement|ImageBitmap} d.img
 * @param {number|null} d.tile  The tile that shows `channel` at this epoch, or null.
 * @param {number} d.channel
 * @param {number} d.probe
 * @param {string|null} d.cmap
 * @param {() => void} d.onClose
 * @returns {{element: HTMLElement, big: HTMLElement, exemplars: HTMLElement, strip: HTMLElement, info: HTMLElement,
 *     label: HTMLElement}}
 */
export function drilldownView({kind, layer, epoch, record, layout, img, tile, channel, probe, cmap, onClose}) {
  const view = kindView(kind);
  const name = `${view.tileNoun} ${channel}`;
  const dd = drilldownBox(`${name} of ${layer}`, onClose);
  dd.element.dataset.channel = String(channel);
  let facts = [`epoch ${epoch}`];
  if (tile !== null) {
    const big = cropTile(img, layout, tile, cmap);
    big.className = 'drill-canvas';
    const bigZoom = Math.max(1, Math.floor(192 / Math.max(layout.tile_width, layout.tile_height)));
    big.style.width = `${layout.tile_width * bigZoom}px`;
    big.style.height = `${layout.tile_height * bigZoom}px`;
    big.setAttribute('role', 'img');
    big.setAttribute('aria-label', `${name} at epoch ${epoch}, enlarged ${bigZoom}×`);
    dd.big.appendChild(big);
    facts = tileFacts({view, record, layout, tile, channel, probe, epoch, bigZoom});
  } else {
    const [title, text] = view.missingTile({channel, epoch, record, layout});
    dd.big.appendChild(message(title, text));
  }
  dd.info.replaceChildren(...facts.map((f) => h('div', {text: f})));
  dd.info.hidden = tile === null;  // the note says it all
  if (!view.stripWithoutTile && tile === null) dd.label.hidden = true;
  return dd;
}

/**
 * One filmstrip frame: a button holding a canvas slot and the epoch number.
 * @param {number} epoch
 * @param {boolean} current
 * @param {(epoch: number) => void} onPick
 */
function filmFrame(epoch, current, onPick) {
  const slot = h('div', {class: 'frame-img'});
  const button = h('button', {type: 'button', class: 'frame', 'aria-label': `Epoch ${epoch}`, title: `Epoch ${epoch}`,
    'aria-current': current ? 'true' : null, dataset: {epoch: String(epoch)}},
  slot, h('span', {class: 'frame-label', text: String(epoch)}));
  button.addEventListener('click', () => onPick(epoch));
  return {element: h('li', {}, button), slot};
}

/**
 * Fills `strip` with one empty frame per item and scrolls the frame of `epoch` into view.
 * @template {{step: number}} T
 * @param {HTMLElement} strip
 * @param {T[]} items
 * @param {number} epoch  The epoch on show.
 * @param {(epoch: number) => void} onPick
 * @returns {Array<T & {element: HTMLElement, slot: HTMLElement}>}  The frames; fill each `slot` with `frameCanvas`.
 */
export function filmstrip(strip, items, epoch, onPick) {
  const frames = items.map((item) => ({...filmFrame(item.step, item.step === epoch, onPick), ...item}));
  strip.replaceChildren(...frames.map((f) => f.element));
  const current = frames.find((f) => f.step === epoch);
  if (current) requestAnimationFrame(() => {
    const sl = strip.scrollLeft;
    const el = current.element;
    if (el.offsetLeft < sl || el.offsetLeft + el.offsetWidth > sl + strip.clientWidth) {
      strip.scrollLeft = el.offsetLeft - strip.clientWidth / 2;
    }
  });
  return frames;
}

/**
 * The canvas of a filmstrip frame: tile `k` of one epoch's grid, about 56 px across.
 * @param {HTMLImageElement|ImageBitmap} img
 * @param {GridLayout} layout
 * @param {number} k
 * @param {string|null} cmap
 * @returns {HTMLCanvasElement}
 */
export function frameCanvas(img, layout, k, cmap) {
  const frameZoom = Math.max(1, Math.floor(56 / Math.max(layout.tile_width, layout.tile_height)));
  const c = cropTile(img, layout, k, cmap);
  c.className = 'frame-canvas';
  c.style.width = `${layout.tile_width * frameZoom}px`;
  c.style.height = `${layout.tile_height * frameZoom}px`;
  return c;
}
