// The Grad-CAM kind's view: a panel shows the heatmaps of the chosen probe image over it, one per target
// class. The DOM is gradcam.js's.

import {camColormap, className, runInfo} from './facts.js';
import {gradcamView} from './gradcam.js';
import {loadProbeImage, loadStep} from './model.js';
import {nonfiniteText, probeLabel} from './records.js';
import * as views from './views.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').PanelContext} PanelContext
 * @typedef {import('./types.js').TagEntry} TagEntry
 * @typedef {import('./types.js').ViewState} ViewState
 */

/** The toolbar fields this kind uses (view-activations.js says what each member of a tab kind means). */
export const fields = {probe: true, cmap: true, opacity: true};
/** No drill-down: a heatmap has no tiles. */
export const tileNoun = null;
/** Runs of different architectures: one menu entry, and each run shows its own Grad-CAM layer. */
export const stage = {shared: false, option: ['gradcam', 'Grad-CAM layer (each run its own)'], runLayer: (st) => st.gradcam};

/**
 * The colour map of the heatmaps.
 * @param {ViewState} s
 * @returns {string}
 */
export function colormap(s) {
  return camColormap(s.cmap);
}

/**
 * The heatmaps' image indices the probe had at the last epoch seen, per `[run, tag, probe]`, so that one
 * frame asks for the record and its heatmaps together.
 * @type {WeakMap<App, Map<string, number[]>>}
 */
const guessed = new WeakMap();

/**
 * @param {App} app
 * @returns {Map<string, number[]>}
 */
function guessesOf(app) {
  let m = guessed.get(app);
  if (!m) {
    m = new Map();
    guessed.set(app, m);
  }
  return m;
}

function camKey(run, tag, probe) {
  return JSON.stringify([run, tag, probe]);
}

/**
 * The image indices a panel loads at an epoch: the heatmaps the probe had at the last epoch seen.
 * @param {App} app
 * @param {string} run
 * @param {TagEntry} entry
 * @param {ViewState} s
 * @returns {number[]}
 */
export function needs(app, run, entry, s) {
  return guessesOf(app).get(camKey(run, entry.tag, s.probe)) || [];
}

/**
 * Draws the Grad-CAM heatmaps of the chosen probe image over it.
 * @param {PanelContext} ctx
 */
export async function render({app, run, info, entry, epoch, show, stale, drawn}) {
  const s = app.store.get();
  // One frame: the record with the heatmaps the probe had at the last epoch seen (the same at every epoch,
  // checked below), and the probe image the first time.
  const guesses = guessesOf(app);
  const key = camKey(run, entry.tag, s.probe);
  const guess = guesses.get(key) || [];
  const loaded = loadStep(run, entry.tag, epoch, guess, {droppable: true});
  const probes = (runInfo(app.index, run) || {}).probes || {};
  const probeLoad = Number.isInteger(probes.step) && probes.images && probes.images[s.probe]
    ? loadStep(run, 'probes', probes.step, [s.probe]).images[0].catch(() => loadProbeImage(run, s.probe, probes.images))
    : loadProbeImage(run, s.probe, probes.images);
  probeLoad.catch(() => {});
  const step = await loaded.doc;
  if (stale()) return;
  const rec = ((step.record || {}).probes || []).find((q) => q.probe === s.probe) || (step.record.probes || [])[s.probe];
  if (!rec) {
    show([views.message(`No Grad-CAM for ${probeLabel(s.probe)} at epoch ${epoch}`, '')], entry.layer);
    return;
  }
  let probeImg = null;
  let probeDamaged = false;
  try {
    probeImg = await probeLoad;
  } catch (e) {
    probeImg = null;
    probeDamaged = Boolean(e && e.damaged);
  }
  const wanted = (rec.targets || []).map((t) => t.heatmap - 1);
  guesses.set(key, wanted);
  // A damaged heatmap becomes a "damaged" tile in its place; the other targets are still drawn.
  const heats = await Promise.all(wanted.map((i) => {
    const at = guess.indexOf(i);
    const p = at >= 0 ? loaded.images[at] : loadStep(run, entry.tag, epoch, [i], {droppable: true}).images[0];
    return p.catch((e) => {
      if (e && e.damaged) return e;
      throw e;
    });
  }));
  if (stale()) return;
  const cam = gradcamView({rec, heats, probeImg, probeDamaged, cmap: camColormap(s.cmap), opacity: s.opacity,
    probe: s.probe, epoch, layer: entry.layer, nameOf: (c) => className(info, entry, c), nonfinite: nonfiniteText(step.record)});
  show(cam.nodes, `${entry.layer} · epoch ${epoch} · ${probeLabel(s.probe)}`);
  for (const c of cam.canvases) views.applyZoom(c, app.store.get().zoom);
  if (!stale()) drawn();
}

