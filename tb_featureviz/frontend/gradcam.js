// DOM of a Grad-CAM view: for one probe image, one figure per class target (the heatmap laid over the
// probe image at the chosen opacity), a verdict line (predicted vs true class) and notes. Nothing here
// fetches or holds state: it takes decoded images and the step's record.

import {colorizedCanvas} from './colormap.js';
import {probeLabel} from './records.js';
import {damagedTile, h, nonfiniteNote} from './views.js';

/**
 * @typedef {import('./types.js').GradcamProbe} GradcamProbe
 * @typedef {import('./types.js').GradcamTarget} GradcamTarget
 */

/**
 * "Predicted class", "True class" or "Target “x”".
 * @param {string} target
 * @returns {string}
 */
function targetHeading(target) {
  return target === 'predicted' ? 'Predicted class' : target === 'true' ? 'True class' : `Target “${target}”`;
}

/**
 * A Grad-CAM figure: the composited canvas and its caption lines.
 * @param {HTMLCanvasElement} canvas
 * @param {string} heading
 * @param {Array<{text: string, cls: string}>} lines
 * @returns {HTMLElement}
 */
function camFigure(canvas, heading, lines) {
  return h('figure', {class: 'cam-figure'},
    h('div', {class: 'cam-heading', text: heading}),
    h('div', {class: 'grid-scroll'}, h('div', {class: 'grid-frame'}, canvas)),
    h('figcaption', {}, ...lines.map((l) => h('div', {class: l.cls || '', text: l.text}))));
}

/**
 * The canvas of one heatmap over the probe image. `canvas.redraw(opacity)` draws it again at another
 * heatmap opacity (the probe image stays opaque; without one the heatmap is drawn alone).
 * @param {HTMLImageElement|ImageBitmap} heat  The grayscale heatmap.
 * @param {HTMLImageElement|ImageBitmap|null} probeImg
 * @param {string} cmap
 * @param {number} opacity  0..1.
 * @param {string} target
 * @returns {HTMLCanvasElement}  With a `redraw(opacity)` method (panels.js calls it when the opacity changes).
 */
function camCanvas(heat, probeImg, cmap, opacity, target) {
  const canvas = document.createElement('canvas');
  canvas.width = (heat.naturalWidth || heat.width);
  canvas.height = (heat.naturalHeight || heat.height);
  canvas.className = 'cam-canvas zoomable';
  canvas.dataset.target = target;
  canvas.dataset.maxFit = '4';
  const colored = colorizedCanvas(heat, cmap);
  canvas.redraw = (o) => {
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (probeImg) ctx.drawImage(probeImg, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = probeImg ? o : 1;
    ctx.drawImage(colored, 0, 0);
    ctx.globalAlpha = 1;
    canvas.dataset.opacity = String(o);
  };
  canvas.redraw(opacity);
  return canvas;
}

/**
 * The lowest and highest gray level of a decoded heatmap.
 * @param {HTMLImageElement|ImageBitmap} heat
 * @returns {[number, number]}
 */
export function heatRange(heat) {
  const c = document.createElement('canvas');
  c.width = (heat.naturalWidth || heat.width);
  c.height = (heat.naturalHeight || heat.height);
  const ctx = c.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(heat, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let lo = 255;
  let hi = 0;
  for (let p = 0; p < d.length; p += 4) {
    if (d[p] < lo) lo = d[p];
    if (d[p] > hi) hi = d[p];
  }
  return [lo, hi];
}

/**
 * What a flat heatmap (one value everywhere) means, or null for a map that varies. Grad-CAM is
 * relu(sum_k w_k A_k) divided by its maximum (tb_featureviz/compute/cam.py): all zero where that sum is
 * zero or negative at every position, one value everywhere where it is the same at every position.
 * @param {[number, number]} range  `heatRange` of the map.
 * @param {string} cls  The class name.
 * @param {string} layer  The Grad-CAM layer.
 * @returns {string|null}
 */
export function flatText(range, cls, layer) {
  const [lo, hi] = range;
  if (lo !== hi) return null;
  if (hi === 0) {
    return `Flat map: at this epoch no position in ${layer} raises the score of ${cls} (the gradient-weighted ` +
      'sum of its channels is zero or negative everywhere), so Grad-CAM points at nothing.';
  }
  return `Flat map: at this epoch every position in ${layer} weighs the same for ${cls}, so Grad-CAM points ` +
    'at nothing.';
}

/**
 * "correct · predicted dog (0.930) · true dog", with a badge.
 * @param {GradcamProbe} rec
 * @param {(c: number) => string} nameOf
 * @returns {HTMLElement}
 */
function verdict(rec, nameOf) {
  const predicted = nameOf(rec.predicted);
  const truth = rec.true === null || rec.true === undefined ? null : nameOf(rec.true);
  const correct = truth !== null && rec.true === rec.predicted;
  const predictedP = rec.probabilities ? rec.probabilities[rec.predicted] : null;
  const prob = predictedP !== undefined && predictedP !== null ? Number(predictedP).toFixed(3) : null;
  return h('p', {class: `cam-summary ${truth === null ? '' : correct ? 'ok' : 'wrong'}`},
    h('span', {class: 'cam-badge', text: truth === null ? 'no label' : correct ? 'correct' : 'wrong'}),
    h('span', {text: `predicted ${predicted}${prob ? ` (${prob})` : ''}`}),
    truth === null ? null : h('span', {text: ` · true ${truth}`}));
}

/**
 * The Grad-CAM view of one probe image at one epoch.
 * @param {Object} g
 * @param {GradcamProbe} g.rec  The probe's entry of the step's record.
 * @param {Array<HTMLImageElement|ImageBitmap|Error>} g.heats  The heatmap of each of `rec.targets`; an Error (damaged)
 *     becomes a "damaged" tile in its place.
 * @param {HTMLImageElement|ImageBitmap|null} g.probeImg
 * @param {boolean} g.probeDamaged  Why `probeImg` is null: damaged rather than missing.
 * @param {string} g.cmap
 * @param {number} g.opacity
 * @param {number} g.probe
 * @param {number} g.epoch
 * @param {string} g.layer  The Grad-CAM layer.
 * @param {(c: number) => string} g.nameOf  The name of class `c`.
 * @param {string|null} g.nonfinite  records.js `nonfiniteText` of the record.
 * @returns {{nodes: HTMLElement[], canvases: HTMLCanvasElement[]}}  What the panel shows, and the canvases to size.
 */
export function gradcamView({rec, heats, probeImg, probeDamaged, cmap, opacity, probe, epoch, layer, nameOf, nonfinite}) {
  const targets = rec.targets || [];
  const figures = targets.map((t, i) => {
    const heat = heats[i];
    if (heat instanceof Error) {
      return h('figure', {class: 'cam-figure', dataset: {target: t.target}},
        h('div', {class: 'cam-heading', text: targetHeading(t.target)}),
        damagedTile(`The ${t.target} class heatmap at epoch ${epoch}`, heat.message));
    }
    const canvas = camCanvas(heat, probeImg, cmap, opacity, t.target);
    const cls = nameOf(t.class);
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Grad-CAM for the ${t.target} class ${cls} over ${probeLabel(probe)}`);
    const lines = [
      {text: cls, cls: 'cam-class'},
      {text: t.score === null || t.score === undefined ? 'score non-finite (NaN or inf)'
        : `score ${Number(t.score).toFixed(3)} (the model's probability for ${cls})`, cls: 'cam-score'},
    ];
    const flat = flatText(heatRange(heat), cls, layer || 'the layer');
    if (flat) {
      lines.push({text: flat, cls: 'cam-flat'});
      canvas.dataset.flat = '1';
    }
    return camFigure(canvas, targetHeading(t.target), lines);
  });
  const row = h('div', {class: 'cam-row'}, ...figures);
  const notes = [];
  if (targets.length < 2) notes.push(h('p', {class: 'muted small', text: 'The true class is unknown for this probe image (no labels given to the callback).'}));
  if (!probeImg) {
    const why = probeDamaged ? 'Probe image damaged in the event file' : 'Probe image not found';
    notes.push(h('p', {class: 'muted small', text: `${why}: showing the heatmap alone.`}));
  }
  const note = nonfiniteNote(nonfinite);
  if (note) notes.unshift(note);
  return {nodes: [verdict(rec, nameOf), row, ...notes], canvases: [...row.querySelectorAll('canvas')]};
}
