// Toolbar and epoch bar controller: brings their controls up to date with the view state, and moves
// through the epochs (slider, previous/next, Play). Listening to the controls is index.js's wiring.

import {COLORMAPS, cssGradient} from './colormap.js';
import {syncExport} from './exporting.js';
import {alignMode, camColormap, epochRangeText, kindsAvailable, layersFor, nearest, probeInfo, shownEpoch, shownEpochs,
  shownRuns, stageOptions} from './facts.js';
import {KIND_NOUN, kindView} from './kinds.js';
import {probeLabel} from './records.js';
import {ZOOMS} from './state.js';
import {setOptions} from './views.js';

/** @typedef {import('./types.js').App} App */

const PLAY_MS = 700;

/**
 * The options of the probe menu: "probe 0 (cat)" where the probe's label is known, else "probe 0"
 * (records.js `probeLabel`: 0-based, as the URL, the API, `--probe` and the report count).
 * @param {{count: number, labels: Array<number|null>|null, names: string[]|null}} probes  facts.js `probeInfo`.
 * @returns {Array<[string, string]>}
 */
function probeOptions(probes) {
  /** @type {Array<[string, string]>} */
  const options = [];
  for (let i = 0; i < probes.count; i++) {
    const label = probes.labels && probes.labels[i] !== null && probes.labels[i] !== undefined
      ? (probes.names && probes.names[probes.labels[i]] !== undefined ? probes.names[probes.labels[i]] : `class ${probes.labels[i]}`)
      : null;
    options.push([String(i), probeLabel(i, label)]);
  }
  return options;
}

/**
 * Brings the toolbar, the epoch bar and the Export button up to date with the view state.
 * @param {App} app
 */
export function syncControls(app) {
  const s = app.store.get();
  const ui = app.ui;
  const runs = shownRuns(app);
  const available = kindsAvailable(app.index, runs);
  for (const [kind, b] of Object.entries(ui.kindButtons)) {
    b.setAttribute('aria-pressed', String(kind === s.kind));
    b.disabled = !available.includes(kind);
    b.title = available.includes(kind) ? '' : `The selected runs have no ${KIND_NOUN[kind]}`;
  }
  // Runs of one architecture share layer names; different architectures share a stage (aligned per run).
  const view = kindView(s.kind);
  const staged = alignMode(app.index, s.kind, runs) === 'stage';
  if (staged) setOptions(ui.layerSelect, stageOptions(app.index, s.kind, runs), view.stage.shared ? s.stage : view.stage.option[0]);
  else setOptions(ui.layerSelect, layersFor(app.index, s.kind, runs).map((l) => [l, l]), s.layer);
  ui.layerLabel.textContent = staged && view.stage.shared ? 'Stage' : 'Layer';
  ui.layerField.title = staged ? 'The runs have different layers: each panel shows its own layer for this choice ' +
    '(pick another in its header)' : '';
  setOptions(ui.probeSelect, probeOptions(probeInfo(app.index, runs)), s.probe);
  ui.probeField.hidden = !view.fields.probe;
  setOptions(ui.cmapSelect, COLORMAPS.map((c) => [c, c]), s.cmap);
  ui.cmapSwatch.style.background = cssGradient(camColormap(s.cmap));
  ui.cmapField.hidden = !view.fields.cmap;
  setOptions(ui.zoomSelect, ZOOMS.map((z) => [z, z === 'fit' ? 'Fit' : `${z}×`]), s.zoom);
  ui.opacityField.hidden = !view.fields.opacity;
  ui.opacityInput.value = String(Math.round(s.opacity * 100));
  ui.opacityValue.textContent = `${Math.round(s.opacity * 100)}%`;

  const epochs = shownEpochs(app);
  const epoch = shownEpoch(app);
  ui.slider.max = String(Math.max(0, epochs.length - 1));
  ui.slider.value = String(Math.max(0, epochs.indexOf(nearest(epochs, epoch ?? 0))));
  ui.slider.disabled = epochs.length < 2;
  ui.slider.setAttribute('aria-valuetext', epoch === null ? 'no epochs' : `Epoch ${epoch}`);
  ui.epochLabel.textContent = epoch === null ? 'No epochs yet' : `Epoch ${epoch}`;
  ui.epochLabel.dataset.epoch = epoch === null ? '' : String(epoch);
  ui.epochRange.textContent = epochRangeText(epochs);
  ui.followCheckbox.checked = s.follow;
  ui.prevButton.disabled = !epochs.length || epoch <= epochs[0];
  ui.nextButton.disabled = !epochs.length || epoch >= epochs[epochs.length - 1];
  ui.playButton.textContent = app.playTimer ? '❚❚ Pause' : '▶ Play';
  ui.playButton.setAttribute('aria-label', app.playTimer ? 'Pause' : 'Play epochs');
  ui.playButton.disabled = epochs.length < 2;
  syncExport(app);
}

/**
 * Shows `epoch` (or the nearest epoch there is). Following stops, unless `keepFollow` and it is the newest.
 * @param {App} app
 * @param {number} epoch
 * @param {{keepFollow?: boolean}} [options]
 */
export function setEpoch(app, epoch, {keepFollow = false} = {}) {
  const epochs = shownEpochs(app);
  if (!epochs.length) return;
  const e = epochs.includes(epoch) ? epoch : nearest(epochs, epoch);
  const follow = keepFollow ? app.store.get().follow : false;
  app.store.set({epoch: e, follow: follow && e === epochs[epochs.length - 1]});
}

/**
 * Moves `delta` epochs from the one on show, within the first and the last.
 * @param {App} app
 * @param {number} delta
 */
export function stepEpoch(app, delta) {
  const epochs = shownEpochs(app);
  if (!epochs.length) return;
  const i = epochs.indexOf(nearest(epochs, shownEpoch(app)));
  const j = Math.max(0, Math.min(epochs.length - 1, i + delta));
  setEpoch(app, epochs[j]);
}

/**
 * Starts or stops Play (every PLAY_MS the next epoch, wrapping around); toggles without `force`.
 * @param {App} app
 * @param {boolean} [force]  true: play, false: pause.
 */
export function togglePlay(app, force) {
  const playing = force !== undefined ? force : !app.playTimer;
  if (app.playTimer) {
    clearInterval(app.playTimer);
    app.playTimer = null;
  }
  if (playing) {
    const epochs = shownEpochs(app);
    if (epochs.length < 2) return syncControls(app);
    if (shownEpoch(app) === epochs[epochs.length - 1]) setEpoch(app, epochs[0]);
    else setEpoch(app, shownEpoch(app));
    app.playTimer = setInterval(() => {
      const list = shownEpochs(app);
      const i = list.indexOf(nearest(list, shownEpoch(app)));
      setEpoch(app, list[(i + 1) % list.length]);
    }, PLAY_MS);
  }
  syncControls(app);
}

/**
 * What a click on an epoch (a chart point, a filmstrip frame) does: pause, then show it.
 * @param {App} app
 * @param {number} epoch
 */
export function pickEpoch(app, epoch) {
  togglePlay(app, false);
  setEpoch(app, epoch);
}
