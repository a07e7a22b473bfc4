// DOM of a channel's exemplars in the drill-down: the crops of the sample images the channel responds to
// most, best first, each with its response. Nothing here fetches: it takes decoded sample images and the
// crop boxes (layout.js `cropBox`), and cuts each crop out with a canvas source rectangle.

import {h} from './views.js';

/** Display size of a crop, in CSS pixels (small crops are enlarged by an integer factor). */
const CROP_PX = 64;

/**
 * One exemplar as the drill-down shows it.
 * @typedef {Object} ExemplarItem
 * @property {number} image  Index into the run's sample images.
 * @property {number} y
 * @property {number} x
 * @property {number|null} value  The channel's response there.
 * @property {HTMLImageElement|ImageBitmap|null} img  The decoded sample image, null when it did not load.
 * @property {[number, number, number, number]|null} box  `[x0, y0, x1, y1]` of the crop in `img`.
 * @property {boolean} [damaged]  The sample image is damaged in the event file.
 */

/**
 * The crop `box` of `img` on a canvas of the crop's size (pixels as stored), shown about CROP_PX across.
 * @param {HTMLImageElement|ImageBitmap} img
 * @param {[number, number, number, number]} box
 * @returns {HTMLCanvasElement}
 */
export function cropCanvas(img, box) {
  const [x0, y0, x1, y1] = box;
  const canvas = document.createElement('canvas');
  canvas.width = x1 - x0;
  canvas.height = y1 - y0;
  canvas.getContext('2d').drawImage(img, x0, y0, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
  const side = Math.max(canvas.width, canvas.height);
  const zoom = side >= CROP_PX ? CROP_PX / side : Math.floor(CROP_PX / side);
  canvas.style.width = `${Math.round(canvas.width * zoom)}px`;
  canvas.style.height = `${Math.round(canvas.height * zoom)}px`;
  canvas.className = 'exemplar-canvas';
  return canvas;
}

/**
 * A response as 3 significant digits.
 * @param {number|null} v
 * @returns {string}
 */
function valueText(v) {
  return typeof v === 'number' ? String(Number(v.toPrecision(3))) : 'non-finite';
}

/**
 * One crop with its response under it.
 * @param {ExemplarItem} item
 * @param {number} rank
 * @returns {HTMLElement}
 */
function exemplarFigure(item, rank) {
  const where = `sample image ${item.image}, response ${valueText(item.value)} at (${item.y}, ${item.x})`;
  let body;
  if (item.img && item.box) {
    body = cropCanvas(item.img, item.box);
    body.setAttribute('role', 'img');
    body.setAttribute('aria-label', `Exemplar ${rank + 1}: ${where}`);
  } else {
    body = h('span', {class: 'damaged-tile small', text: '✕', title: item.damaged ? 'damaged in the event file' : 'did not load'});
  }
  return h('figure', {class: 'exemplar', title: where, dataset: {rank: String(rank), image: String(item.image)}},
    body, h('figcaption', {class: 'exemplar-value', text: valueText(item.value)}));
}

/**
 * The exemplars block of a drill-down: a heading ("Natural images it likes best", with the epoch of the
 * record when it is an earlier one) and the crops, best first.
 * @param {Object} e
 * @param {number} e.channel
 * @param {ExemplarItem[]} e.items
 * @param {number} e.step  The epoch of the exemplars record.
 * @param {number} e.epoch  The epoch on show.
 * @param {number} e.sample  Images in the sample they were chosen from.
 * @returns {HTMLElement}
 */
export function exemplarsView({channel, items, step, epoch, sample}) {
  const from = step === epoch ? '' : ` (epoch ${step})`;
  return h('section', {class: 'exemplars', 'aria-label': `Exemplars of channel ${channel}`, dataset: {step: String(step)}},
    h('p', {class: 'exemplars-head', text: `Natural images it likes best${from}`,
      title: `The ${items.length} of ${sample} sample images where channel ${channel} responds most, cropped around the strongest response`}),
    h('div', {class: 'exemplar-row'}, ...items.map(exemplarFigure)));
}

/**
 * What the exemplars block says when there are none to show.
 * @param {string} text
 * @returns {HTMLElement}
 */
export function exemplarsNote(text) {
  return h('section', {class: 'exemplars'}, h('p', {class: 'exemplars-head muted', text}));
}
