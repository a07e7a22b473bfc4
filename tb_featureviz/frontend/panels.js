// Panel controller: one panel per selected run, showing the chosen kind, layer, epoch and probe. The kind's
// view module (kinds.js) loads and draws what the panel shows; this module keeps the panels, their headers
// and messages, and paces the loading. An update that a newer one overtook (the user moved on while it
// loaded) draws nothing.
//
// Scrubbing (issue 19): every panel in view asks for its epoch in the same tick, so model.js sends one
// `/frame` request for all of them, with the next epochs in the scrub direction (prefetched). Panels out of
// view load nothing until they scroll in (IntersectionObserver). A view that did not move prefetches the
// epochs on both sides once drawn. Once every panel in view shows the epoch,
// `performance.mark('featureviz:frame', {detail: {epoch}})` is set (benchmarks/_scrub.py reads it).

import {alignedStage, alignMode, entriesOf, entryFor, panelLayer, runFactsLine, runInfo, sharedLayer, shownEpoch,
  shownEpochs, shownRuns, shownRunStyle, stageLabel, stageOfLayer} from './facts.js';
import {KIND_NOUN, kindView} from './kinds.js';
import {loadStep, setStillWanted} from './model.js';
import {planDetails, planLine} from './records.js';
import * as views from './views.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').PanelState} PanelState
 * @typedef {import('./types.js').RunInfo} RunInfo
 * @typedef {import('./types.js').StepDoc} StepDoc
 * @typedef {import('./types.js').TagEntry} TagEntry
 * @typedef {import('./types.js').GridLayout} GridLayout
 * @typedef {(nodes: Node[], sub: string, detail?: Node[]) => void} Show  Fills the panel unless stale.
 */

/**
 * Sizes every zoomable canvas of the panels for the chosen zoom.
 * @param {App} app
 */
export function applyZoomAll(app) {
  for (const p of app.panels.values()) p.zoomRoom = null;
  for (const c of app.ui.panels.querySelectorAll('canvas.zoomable')) views.applyZoom(c, app.store.get().zoom);
}

/**
 * Redraws the Grad-CAM canvases at the chosen heatmap opacity.
 * @param {App} app
 */
export function redrawOpacity(app) {
  const o = app.store.get().opacity;
  for (const c of app.ui.panels.querySelectorAll('canvas.cam-canvas')) if (c.redraw) c.redraw(o);
}

/** Epochs prefetched ahead in the scrub direction; and on each side once a view that did not move is drawn. */
const PREFETCH_EPOCHS = 3;
const PREFETCH_IDLE = 2;
/** A render still drawing after this long no longer holds the next one back (a request that hangs). */
const PACE_TIMEOUT_MS = 1500;

/**
 * What the panels' loading keeps beside the app: the visibility observer, the last epoch drawn (the scrub
 * direction), the count of renders (a frame mark only for the newest).
 * @type {WeakMap<App, {observer: IntersectionObserver, lastEpoch: number|null, renders: number}>}
 */
const loading = new WeakMap();

/**
 * @param {App} app
 */
function loadingOf(app) {
  let l = loading.get(app);
  if (!l) {
    const observer = new IntersectionObserver((entries) => {
      const updates = [];
      for (const en of entries) {
        const run = en.target.dataset.run;
        const p = app.panels.get(run);
        if (!p || p.element !== en.target) continue;
        p.visible = en.isIntersecting;
        if (p.visible && p.dirty) {  // scrolled in: load what it missed
          p.dirty = false;
          updates.push(updatePanel(app, run));
        }
      }
      if (updates.length) markFrame(app, updates, true);
    });
    // drawing: when the render on the way started (null: none); again: a render was asked for meanwhile.
    l = {observer, lastEpoch: null, renders: 0, drawing: null, drawingRender: null, again: false};
    loading.set(app, l);
  }
  return l;
}

/**
 * Adds and removes panels to match the selected runs, in selection order.
 * @param {App} app
 */
function ensurePanels(app) {
  const runs = shownRuns(app);
  const {observer} = loadingOf(app);
  for (const [run, p] of app.panels) {
    if (!runs.includes(run)) {
      observer.unobserve(p.element);
      p.element.remove();
      app.panels.delete(run);
    }
  }
  const ordered = runs.map((run) => {
    if (!app.panels.has(run)) {
      const style = shownRunStyle(app, run);
      // visible: null until the observer says; dirty: it has an update to make once in view.
      const p = {...views.panel(run, style.color, style), seq: 0, channelShown: null, visible: null, dirty: true};
      p.layerPick.addEventListener('change', () => pickLayer(app, run, p.layerPick.value));
      app.panels.set(run, p);
      observer.observe(p.element);
    }
    return app.panels.get(run).element;
  });
  const ui = app.ui;
  const cur = [...ui.panels.children];
  if (cur.length !== ordered.length || cur.some((c, i) => c !== ordered[i])) {
    ui.panels.replaceChildren(...ordered);
    for (const p of app.panels.values()) p.zoomRoom = null;  // the panels' widths may have changed
  }
  ui.panels.dataset.count = String(ordered.length);
  if (!ordered.length) ui.panels.replaceChildren(views.noRunPanel());
}

/**
 * The run's own layer, picked in its panel header (dropped when it is what the shared menu gives).
 * @param {App} app
 * @param {string} run
 * @param {string} layer
 */
function pickLayer(app, run, layer) {
  const s = app.store.get();
  const picks = {...s.picks};
  if (layer === sharedLayer(app.index, s, run, shownRuns(app))) delete picks[run];
  else picks[run] = layer;
  app.store.set({picks, channel: null});
}

/**
 * Fills a panel header's layer menu (the run's own layers of the view, when several runs are on show)
 * and its stage note ("stage 3 of 5 · 28x28", runs of different architectures).
 * @param {App} app
 * @param {PanelState} p
 * @param {RunInfo} info
 * @param {string|null} layer  The layer the panel shows.
 */
function syncPanelHead(app, p, info, layer) {
  const s = app.store.get();
  const runs = shownRuns(app);
  const entries = info.featureviz ? entriesOf(info, s.kind) : [];
  const staged = alignMode(app.index, s.kind, runs) === 'stage';
  const options = entries.map((e) => {
    const at = stageOfLayer(info, e.layer);
    return [e.layer, at && staged ? `${e.layer} · ${stageLabel(at.stage, at.count)}` : e.layer];
  });
  if (layer === null && options.length) options.unshift(['', '(none at this stage)']);
  // The shared layer, which this run did not write (runs of one model may write different layer sets).
  else if (layer !== null && options.length && !options.some(([v]) => v === layer)) {
    options.unshift([layer, `${layer} (not in this run)`]);
  }
  views.setOptions(p.layerPick, options, layer === null ? '' : layer);
  p.layerPick.hidden = runs.length < 2 || !options.length;
  p.layerPick.classList.toggle('picked', Boolean((s.picks || {})[info.run]));
  const at = staged && layer !== null ? stageOfLayer(info, layer) : null;
  p.layerNote.textContent = at && p.layerPick.hidden ? stageLabel(at.stage, at.count) : '';  // the menu says it
}

/**
 * Brings every panel up to date with the view state (each loads on its own).
 * @param {App} app
 */
export function renderPanels(app) {
  // Paced like video: while the panels draw one epoch, a held key's further epochs wait, and the next
  // render shows the latest one (the epochs in between are skipped, not queued).
  const pace = loadingOf(app);
  if (pace.drawing !== null && performance.now() - pace.drawing < PACE_TIMEOUT_MS) {
    pace.again = true;
    return;
  }
  pace.again = false;
  ensurePanels(app);
  // A frame that waited behind others drops the epochs the view has moved past (model.js).
  setStillWanted((run, tag, step) => {
    const epochs = shownEpochs(app);
    const at = epochs.indexOf(shownEpoch(app));
    const k = epochs.indexOf(step);
    return at < 0 || k < 0 || Math.abs(k - at) <= PREFETCH_EPOCHS;
  });
  const l = loadingOf(app);
  const epoch = shownEpoch(app);
  const updates = [];
  const inView = [];
  for (const run of shownRuns(app)) {
    const p = app.panels.get(run);
    if (p.visible !== true) {
      p.dirty = true;  // out of view (or not known yet): costs nothing until it scrolls in
      continue;
    }
    p.dirty = false;
    inView.push(run);
    updates.push(updatePanel(app, run));
  }
  // Same tick as the panels' own requests: the next epochs in the scrub direction join their /frame.
  const direction = epoch === null || l.lastEpoch === null ? 0 : Math.sign(epoch - l.lastEpoch);
  if (direction) prefetch(app, inView, epoch, direction, PREFETCH_EPOCHS);
  l.lastEpoch = epoch;
  // Panels not known to be in view or out of it yet: the observer's first answer loads them and marks.
  if (![...app.panels.values()].some((p) => p.visible === null)) {
    l.drawing = performance.now();
    l.drawingRender = markFrame(app, updates, !direction);
  } else {
    l.renders++;
  }
}

/**
 * Sets `performance.mark('featureviz:frame', {detail: {epoch}})` once `updates` (the panels in view) are
 * drawn, unless a newer render overtook them: the time from a key press to that mark is what a person
 * scrubbing waits for (benchmarks/_scrub.py).
 * @param {App} app
 * @param {Array<Promise<*>>} updates
 * @param {boolean} [settled]  The epoch did not move: once drawn, the epochs on both sides are prefetched
 *     (the first press of a scrub finds its frame in memory).
 * @returns {number}  The render's number.
 */
function markFrame(app, updates, settled = false) {
  const l = loadingOf(app);
  const render = ++l.renders;
  const epoch = shownEpoch(app);
  Promise.allSettled(updates).then(() => {
    const paced = render === l.drawingRender;
    if (paced) l.drawing = l.drawingRender = null;
    const current = render === l.renders;
    if (current) {
      try {
        performance.mark('featureviz:frame', {detail: {epoch}});
      } catch (e) {
        // Old browsers: no marks.
      }
    }
    if (paced && l.again) {
      renderPanels(app);  // the view moved on while this epoch drew: show the latest
      return;
    }
    if (current && settled && epoch !== null) {
      const inView = shownRuns(app).filter((run) => (app.panels.get(run) || {}).visible === true);
      for (const direction of [1, -1]) prefetch(app, inView, epoch, direction, PREFETCH_IDLE);
    }
  });
  return render;
}

/**
 * What the panel of `run` loads at `epoch`: `[tag, image indices]` of its view and its plan record.
 * @param {App} app
 * @param {string} run
 * @param {number} epoch
 * @returns {Array<[string, number[]]>}
 */
function panelNeeds(app, run, epoch) {
  const s = app.store.get();
  const info = runInfo(app.index, run);
  if (!info || !info.featureviz) return [];
  const needs = [];
  if (Array.isArray(info.plan) && info.plan.includes(epoch)) needs.push(['plan', []]);
  const entry = entryFor(info, s.kind, panelLayer(app.index, s, run, shownRuns(app)));
  if (!entry || !entry.steps.includes(epoch)) return needs;
  needs.push([entry.tag, kindView(s.kind).needs(app, run, entry, s)]);
  return needs;
}

/**
 * Asks for the next `count` epochs after `epoch` in `direction` for the panels in view (answers are kept
 * in memory by model.js; nothing is drawn).
 * @param {App} app
 * @param {string[]} runs
 * @param {number} epoch
 * @param {number} direction  1 or -1.
 * @param {number} count
 */
function prefetch(app, runs, epoch, direction, count) {
  const epochs = shownEpochs(app);
  const at = epochs.indexOf(epoch);
  if (at < 0) return;
  for (let k = 1; k <= count; k++) {
    const next = epochs[at + k * direction];
    if (next === undefined) break;
    for (const run of runs) {
      for (const [tag, indices] of panelNeeds(app, run, next)) loadStep(run, tag, next, indices, {droppable: true});
    }
  }
}

/**
 * Sets the `featureviz:first-grid` performance mark once (benchmarks/bench_frontend.py reads it).
 * @param {App} app
 */
function markFirstGrid(app) {
  if (app.firstGridMarked) return;
  app.firstGridMarked = true;
  try {
    performance.mark('featureviz:first-grid');
  } catch (e) {
    // Old browsers: no marks.
  }
}

/**
 * The run's `status` record when its training stopped with an error (`featureviz demo` writes it), else null.
 * @param {RunInfo} info
 * @returns {{message: string, exit_code: number, log_tail: string}|null}
 */
function failedStatus(info) {
  return info.status && info.status.state === 'failed' ? info.status : null;
}

/**
 * The first line of a failure's message (the whole message and the log are in views.failure).
 * @param {{message: string, exit_code: number}} status
 * @returns {string}
 */
function failureLine(status) {
  const line = String(status.message || '').split('\n').find((l) => l.trim()) || '';
  return line.trim() || `exit code ${status.exit_code}`;
}

/**
 * Shows or hides the panel's one-line error notice: training stopped with an error, yet the panel shows
 * the epochs written before (the whole failure view, with the log, is the body when there are none).
 * @param {PanelState} p
 * @param {string|null} text
 */
function setAlert(p, text) {
  if (p.alert.textContent !== (text || '')) p.alert.textContent = text || '';
  p.alert.hidden = !text;
}

/**
 * What a panel says when the run has no data of the view: curves only, no such layer, no such epoch.
 * @param {RunInfo} info
 * @param {TagEntry|null} entry
 * @param {string} kind
 * @param {string|null} layer
 * @param {number|null} epoch
 * @param {string|null} stage  The shared stage choice ("k/n") when the runs are aligned by stage.
 * @returns {[Node[], string]|null}  `[nodes, subtitle]`, or null when there is data to show.
 */
function missingData(info, entry, kind, layer, epoch, stage = null) {
  if (!info.featureviz) {
    return [[views.message('This run has curves but no FeatureViz data',
      'Add the FeatureViz callback to its training to see activations, filter patterns and Grad-CAM here:',
      {snippet: true})], 'curves only'];
  }
  const failed = failedStatus(info);
  if (failed && (!entry || epoch === null || !entry.steps.includes(epoch))) {
    return [[views.failure(failed)], 'training failed'];
  }
  const what = KIND_NOUN[kind];
  if (!entry) {
    const text = entriesOf(info, kind).length
      ? `This run has ${what} for ${entriesOf(info, kind).map((e) => e.layer).join(', ')}.`
      : `The callback writes them unless they are switched off (filter_patterns=False, gradcam=False).`;
    const aligned = layer === null && stage ? alignedStage(info, stage) : null;
    const where = aligned ? `at its ${stageLabel(aligned, info.stages.count)}` : `for layer ${layer}`;
    return [[views.message(`No ${what} ${where} in this run`, `${text} Pick one in the menu above.`)], ''];
  }
  if (epoch === null || !entry.steps.includes(epoch)) {
    const steps = entry.steps;
    const range = steps.length ? `This run has ${what} for epoch${steps.length > 1 ? 's' : ''} ` +
      `${steps.length > 6 ? `${steps[0]}–${steps[steps.length - 1]} (${steps.length} epochs)` : steps.join(', ')}.` : '';
    return [[views.message(`No ${what} at epoch ${epoch} in this run`, range)], `${entry.layer} · epoch ${epoch}`];
  }
  return null;
}

/**
 * Loads and draws the panel of `run` for the view state.
 * @param {App} app
 * @param {string} run
 */
async function updatePanel(app, run) {
  const p = app.panels.get(run);
  if (!p) return;
  const seq = ++p.seq;
  const stale = () => p.seq !== seq;
  const s = app.store.get();
  const info = runInfo(app.index, run);
  const epoch = shownEpoch(app);
  p.element.dataset.epoch = epoch === null ? '' : String(epoch);
  p.channelShown = null;
  p.facts.textContent = runFactsLine(info);
  fillBudget(p, run, info, epoch, stale);
  /** @type {Show} */
  const show = (nodes, sub, detail = []) => {
    if (stale()) return;
    p.subtitle.textContent = sub;
    p.body.replaceChildren(...nodes);
    p.detail.replaceChildren(...detail);
  };
  const runs = shownRuns(app);
  const layer = panelLayer(app.index, s, run, runs);
  syncPanelHead(app, p, info, layer);
  const entry = info.featureviz ? entryFor(info, s.kind, layer) : null;
  const view = kindView(s.kind);
  const stage = alignMode(app.index, s.kind, runs) === 'stage' && view.stage.shared ? s.stage : null;
  const missing = missingData(info, entry, s.kind, layer, epoch, stage);
  // Training died after some epochs were written: the panel shows them, under a one-line notice.
  const failed = info.featureviz && entry && epoch !== null && entry.steps.includes(epoch) ? failedStatus(info) : null;
  setAlert(p, failed ? `Training stopped with an error: ${failureLine(failed)}` : null);
  if (missing) {
    show(...missing);
    return;
  }
  try {
    await view.render({app, p, run, info, entry, epoch, show, stale, drawn: () => markFirstGrid(app)});
  } catch (e) {
    if (e && e.damaged) {  // this epoch's record or image: the other epochs are still readable
      show([views.damagedTile(`The record of ${entry.layer} at epoch ${epoch}`, e.message)],
        `${entry.layer} · epoch ${epoch} · damaged`);
      return;
    }
    show([views.message('Could not load this view', String(e && e.message ? e.message : e), {tone: 'error'})], '');
  }
}

/**
 * Fills the panel's budget line for `epoch` from the run's `plan` record, fetched for that epoch only and
 * only when `/index` lists a plan at it; hidden otherwise.
 * @param {PanelState} p
 * @param {string} run
 * @param {RunInfo|null} info
 * @param {number|null} epoch
 * @param {() => boolean} stale
 */
async function fillBudget(p, run, info, epoch, stale) {
  const steps = info && Array.isArray(info.plan) ? info.plan : [];
  if (epoch === null || !steps.includes(epoch)) {
    views.budgetLine(p.budget, epoch, null);
    return;
  }
  if (p.budget.dataset.epoch === String(epoch) && !p.budget.hidden) return;  // already on show
  const order = info.run_info && Array.isArray(info.run_info.layers) ? info.run_info.layers.map(String) : null;
  try {
    const record = (await loadStep(run, 'plan', epoch, [], {droppable: true}).doc).record;
    if (stale()) return;
    views.budgetLine(p.budget, epoch, record ? planLine(record, order) : null, record ? planDetails(record, order) : []);
  } catch (e) {
    if (!stale()) views.budgetLine(p.budget, epoch, null);
  }
}
