// Entry point of the FeatureViz dashboard: TensorBoard imports this module and calls render().
//
// The controller: it owns the one state object (`createApp`), polls `/index` and the curves, keeps the
// view state valid for the data, listens to the controls, and redraws what a state change touches.
//
//   model.js      HTTP: every request, relative URLs only        types.js     JSDoc of the JSON documents
//   state.js      view state + its URL                           facts.js     what the view can show (pure)
//   layout.js     grid geometry, twin of metadata.GridLayout     records.js   what a /step record says (pure)
//   controls.js   toolbar + epoch bar, Play                      panels.js    one panel per run (loads, then draws)
//   exporting.js  what Export sends, the download                chart.js     the curves (SVG)
//   checks.js     the Grad-CAM measures' charts (pure)           colormap.js  colour maps
//   kinds.js      the table of summary kinds: one view module per kind (view-<kind>.js; gridpanel.js draws
//                 the grid kinds' panels)
//   views.js, grid.js, gradcam.js, exemplars.js, exportmenu.js: DOM only

import {createChart, epochDomain} from './chart.js';
import {colorize, lut} from './colormap.js';
import {pickEpoch, setEpoch, stepEpoch, syncControls, togglePlay} from './controls.js';
import {exportMenu} from './exportmenu.js';
import {wireExport} from './exporting.js';
import {alignMode, assignSlots, filterRuns, groupedSlots, groupKeys, groupRuns, layersFor, metricOrder, normalisedPatch,
  partialRuns, runListNote, shownEpoch, shownEpochs, shownRuns, shownRunStyle, UNSELECTED_COLOR} from './facts.js';
import {kindsAt, kindView} from './kinds.js';
import {tileAt} from './layout.js';
import {MAX_INDEX_RUNS, fetchIndex, fetchScalars} from './model.js';
import {applyZoomAll, redrawOpacity, renderPanels} from './panels.js';
import {COMPACT_AUTO, createStore, defaultState, readUrl, writeUrl} from './state.js';
import * as views from './views.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').ViewState} ViewState
 */

const POLL_MS = 2000;
/** The view-state keys whose change redraws the panels. */
const PANEL_KEYS = ['runs', 'kind', 'layer', 'stage', 'picks', 'probe', 'epoch', 'follow', 'cmap', 'channel'];

/**
 * The dashboard's state object, every field declared here (types.js `App` documents them).
 * @param {import('./types.js').Store} store
 * @param {Object<string, *>} ui  views.js `shell()`.
 * @returns {App}
 */
function createApp(store, ui) {
  return {
    store,
    ui,
    index: null,
    indexText: '',
    error: null,
    scalars: new Map(),
    scalarsText: new Map(),
    charts: new Map(),
    panels: new Map(),
    slots: {},
    groupSlots: null,
    hoverRun: null,
    playTimer: null,
    firstGridMarked: false,
    didAutoSelect: false,
    lastPoll: null,
    exporting: null,
  };
}

/**
 * Makes the view state valid for the data we have (facts.js `normalisedPatch`).
 * @param {App} app
 */
function normalise(app) {
  const patch = normalisedPatch(app.index, app.store.get(), app.didAutoSelect);
  if (app.index.runs.length) app.didAutoSelect = true;
  if (Object.keys(patch).length) app.store.set(patch);
}

/**
 * Listens to the toolbar, the epoch bar, the run filter, the keyboard and the panel area's size.
 * @param {App} app
 */
function wireControls(app) {
  const ui = app.ui;
  const set = (patch) => app.store.set(patch);
  for (const [kind, b] of Object.entries(ui.kindButtons)) b.addEventListener('click', () => {
    const layers = layersFor(app.index, kind, shownRuns(app));
    const s = app.store.get();
    set({kind, layer: layers.includes(s.layer) ? s.layer : layers[0] || null, picks: {}, channel: null});
    if (app.index) normalise(app);
  });
  ui.layerSelect.addEventListener('change', () => {
    const s = app.store.get();
    const value = ui.layerSelect.value;
    // A new shared choice drops the runs' own picks.
    if (alignMode(app.index, s.kind, shownRuns(app)) === 'layer') set({layer: value, picks: {}, channel: null});
    else if (kindView(s.kind).stage.shared) set({stage: value, picks: {}, channel: null});
  });
  ui.probeSelect.addEventListener('change', () => set({probe: Number(ui.probeSelect.value)}));
  ui.cmapSelect.addEventListener('change', () => set({cmap: ui.cmapSelect.value}));
  ui.zoomSelect.addEventListener('change', () => set({zoom: ui.zoomSelect.value}));
  ui.opacityInput.addEventListener('input', () => set({opacity: Number(ui.opacityInput.value) / 100}));
  ui.slider.addEventListener('input', () => pickEpoch(app, shownEpochs(app)[Number(ui.slider.value)]));
  const step = (delta) => { togglePlay(app, false); stepEpoch(app, delta); };
  ui.prevButton.addEventListener('click', () => step(-1));
  ui.nextButton.addEventListener('click', () => step(1));
  ui.playButton.addEventListener('click', () => togglePlay(app));
  ui.followCheckbox.addEventListener('change', () => {
    if (ui.followCheckbox.checked) togglePlay(app, false);
    set({follow: ui.followCheckbox.checked, epoch: ui.followCheckbox.checked ? null : shownEpoch(app)});
  });
  ui.runFilter.addEventListener('input', () => set({filter: ui.runFilter.value}));
  ui.groupSelect.addEventListener('change', () => set({group: ui.groupSelect.value || null}));
  ui.compactCheckbox.addEventListener('change', () => set({compact: ui.compactCheckbox.checked}));
  ui.selectShown.addEventListener('click', () => {
    const runs = app.store.get().runs;
    set({runs: [...runs, ...listedRuns(app).runs.filter((r) => !runs.includes(r))]});
    normalise(app);
  });
  ui.clearRuns.addEventListener('click', () => set({runs: []}));
  ui.legend.addEventListener('mouseover', (event) => hoverFrom(app, event, '.legend-item'));
  ui.legend.addEventListener('mouseleave', () => setHover(app, null));
  ui.runList.addEventListener('mouseover', (event) => hoverFrom(app, event, '.run-item'));
  ui.runList.addEventListener('mouseleave', () => setHover(app, null));
  document.addEventListener('keydown', (event) => {
    const t = event.target;
    const tag = t && t.tagName;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || (t && t.dataset && t.dataset.ownKeys)) return;
    if (event.key === 'ArrowLeft') { step(-1); event.preventDefault(); }
    else if (event.key === 'ArrowRight') { step(1); event.preventDefault(); }
    else if (event.key === 'Home') { togglePlay(app, false); setEpoch(app, shownEpochs(app)[0]); event.preventDefault(); }
    else if (event.key === 'End') { togglePlay(app, false); setEpoch(app, shownEpochs(app).at(-1)); event.preventDefault(); }
    else if (event.key === 'Escape' && app.store.get().channel !== null) set({channel: null});
  });
  let resizeFrame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(() => applyZoomAll(app));
  }).observe(ui.panels);
}

/**
 * The runs the run list shows: those of `/index` that match the filter (facts.js `filterRuns`).
 * @param {App} app
 * @returns {{runs: string[], error: string|null}}
 */
function listedRuns(app) {
  return filterRuns(app.index ? app.index.runs.map((r) => r.run) : [], app.store.get().filter);
}

/**
 * Keeps every selected run's colour slot (facts.js `assignSlots`), new runs taking the free ones, and,
 * when the run list is grouped, its slot within its group (`groupedSlots`). Restyles the open panels.
 * @param {App} app
 */
function syncSlots(app) {
  const runs = shownRuns(app);
  app.slots = assignSlots(app.slots, runs);
  const key = app.store.get().group;
  app.groupSlots = key ? groupedSlots(app.groupSlots, groupRuns(app.index, key).map((g) => runs.filter((r) => g.runs.includes(r)))) : null;
  for (const [run, p] of app.panels) views.restylePanel(p.element, shownRunStyle(app, run));
}

/**
 * Compact panels when the user asked for them, or by themselves for more than `COMPACT_AUTO` runs.
 * @param {App} app
 */
function applyCompact(app) {
  const s = app.store.get();
  const on = s.compact === null || s.compact === undefined ? shownRuns(app).length > COMPACT_AUTO : s.compact;
  const was = app.ui.root.classList.contains('compact');
  app.ui.root.classList.toggle('compact', on);
  app.ui.compactCheckbox.checked = on;
  if (was !== on) applyZoomAll(app);  // fitted grids are capped in height in compact panels
}

/**
 * Highlights `run` (null: none) in every chart, the run list, the legend and the panels.
 * @param {App} app
 * @param {string|null} run
 */
function setHover(app, run) {
  if (app.hoverRun === run) return;
  app.hoverRun = run;
  for (const chart of app.charts.values()) chart.highlight(run);
  for (const node of app.ui.root.querySelectorAll('.run-item, .legend-item[data-run], .panel[data-run]')) {
    node.classList.toggle('hovered', run !== null && node.dataset.run === run);
  }
}

/**
 * Highlights the selected run whose entry (`selector`) the pointer is over.
 * @param {App} app
 * @param {MouseEvent} event
 * @param {string} selector
 */
function hoverFrom(app, event, selector) {
  const item = event.target && event.target.closest ? event.target.closest(selector) : null;
  const run = item ? item.dataset.run : null;
  setHover(app, run && shownRuns(app).includes(run) ? run : null);
}

/**
 * Draws the run list: the runs that match the filter (an invalid expression says so and filters nothing),
 * in groups under a header when grouped by a `run_info` key; the group menu lists the keys that differ.
 * @param {App} app
 */
function renderRunList(app) {
  const ui = app.ui;
  const s = app.store.get();
  const {runs: listed, error} = listedRuns(app);
  const item = (run) => {
    const info = app.index.runs.find((r) => r.run === run);
    const note = runListNote(info);
    const style = s.runs.includes(run) ? shownRunStyle(app, run) : null;
    return views.runItem(run, style ? style.color : UNSELECTED_COLOR, Boolean(style), note,
      (r, checked) => toggleRun(app, r, checked), style);
  };
  const keys = groupKeys(app.index);
  const group = s.group || null;
  const items = [];
  if (group) {
    for (const g of groupRuns(app.index, group, listed)) {
      items.push(views.runGroupHead(g.label, g.runs.length, () => {
        const runs = app.store.get().runs;
        app.store.set({runs: [...runs, ...g.runs.filter((r) => !runs.includes(r))]});
        normalise(app);
      }));
      items.push(...g.runs.map(item));
    }
  } else {
    items.push(...listed.map(item));
  }
  ui.runList.replaceChildren(...items);
  ui.runList.classList.toggle('grouped', Boolean(group));
  if (document.activeElement !== ui.runFilter && ui.runFilter.value !== s.filter) ui.runFilter.value = s.filter;
  ui.runFilter.hidden = app.index.runs.length < 8 && !s.filter;
  ui.runFilter.setAttribute('aria-invalid', error ? 'true' : 'false');
  ui.runFilterError.hidden = !error;
  ui.runFilterError.textContent = error ? `${error}. Showing every run.` : '';
  const hidden = s.runs.filter((r) => !listed.includes(r)).length;
  ui.runFilterNote.hidden = !hidden;
  ui.runFilterNote.textContent = hidden ? `${hidden} selected run${hidden === 1 ? '' : 's'} hidden by the filter` : '';
  const options = [['', 'nothing'], ...keys.map((k) => [k, k])];
  if (s.group && !keys.includes(s.group)) options.push([s.group, `${s.group} (same in every run)`]);
  views.setOptions(ui.groupSelect, options, s.group || '');
  ui.groupField.hidden = !keys.length && !s.group;
  ui.selectShown.hidden = listed.length < 2;
  ui.clearRuns.hidden = !s.runs.length;
  if (app.hoverRun) for (const node of ui.runList.querySelectorAll('.run-item')) node.classList.toggle('hovered', node.dataset.run === app.hoverRun);
}

/**
 * Selects (last in order) or deselects `run`.
 * @param {App} app
 * @param {string} run
 * @param {boolean} on
 */
function toggleRun(app, run, on) {
  const s = app.store.get();
  const runs = on ? [...s.runs.filter((r) => r !== run), run] : s.runs.filter((r) => r !== run);
  app.store.set({runs});
  normalise(app);
}

/**
 * The charts to draw: one per metric of the selected runs' curves, then those of the kinds shown as charts
 * (kinds.js; view-checks.js: one per group of Grad-CAM measures), each as `[key, {title, series, domain?, note?}]`.
 * @param {App} app
 * @param {string[]} runs
 * @returns {Array<[string, {title: string, series: Array<Object>, domain?: [number, number], id?: string,
 *     note?: () => Node, footnote?: string}]>}
 */
function chartSpecs(app, runs) {
  const byMetric = new Map();
  for (const run of runs) {
    const sc = app.scalars.get(run);
    if (!sc) continue;
    const style = shownRunStyle(app, run);
    for (const series of sc.series) {
      if (!byMetric.has(series.metric)) byMetric.set(series.metric, []);
      byMetric.get(series.metric).push({
        run, split: series.split, color: style.color, dash: style.dasharray, points: series.points.map((p) => [p[0], p[2]]),
      });
    }
  }
  const specs = [...byMetric.keys()].sort(metricOrder).map((metric) => [metric, {title: metric, series: byMetric.get(metric)}]);
  for (const k of kindsAt('charts')) specs.push(...k.view.chartSpecs(app.scalars, runs, (run) => shownRunStyle(app, run).color));
  return specs;
}

/**
 * Draws the charts of `chartSpecs` (kept and updated in place while their key stays).
 * @param {App} app
 */
function renderCharts(app) {
  const ui = app.ui;
  const runs = shownRuns(app);
  const specs = new Map(chartSpecs(app, runs));
  for (const [key, chart] of app.charts) {
    if (!specs.has(key)) {
      chart.element.remove();
      app.charts.delete(key);
    }
  }
  const cursor = shownEpoch(app);
  const xDomain = epochDomain([...specs.values()].map((spec) => spec.series));  // one epoch axis for every chart
  const ordered = [];
  for (const [key, spec] of specs) {
    if (!app.charts.has(key)) {
      app.charts.set(key, createChart({title: spec.title, onPick: (epoch) => pickEpoch(app, epoch),
        onHover: (run) => setHover(app, run), domain: spec.domain,
        note: spec.note ? spec.note() : null, id: spec.id || key}));
    }
    const chart = app.charts.get(key);
    chart.update({series: spec.series, cursor, xDomain, footnote: spec.footnote || ''});
    chart.highlight(app.hoverRun);
    ordered.push(chart.element);
  }
  if (!specs.size) ordered.push(views.noCurves(runs.some((r) => !app.scalars.has(r))));
  ui.charts.replaceChildren(...ordered);
  ui.legend.replaceChildren(...(specs.size ? views.legend(runs.map((r) => [r, shownRunStyle(app, r)])) : []));
}

/**
 * Fetches the curves of `runs` (a failure reads as no curves), then redraws the charts and controls when
 * they changed or `force` (a poll that found nothing new redraws nothing: it would stall a scrub).
 * @param {App} app
 * @param {string[]} runs
 * @param {boolean} [force]
 */
async function refreshScalars(app, runs, force = true) {
  let changed = force;
  await Promise.all(runs.map(async (run) => {
    try {
      const data = await fetchScalars(run);
      if (app.scalars.get(run) === data) return;  // revalidated: the very document on show
      const text = JSON.stringify(data);
      if (app.scalarsText.get(run) === text) return;
      app.scalarsText.set(run, text);
      app.scalars.set(run, data);
      changed = true;
    } catch (e) {
      app.scalars.set(run, {run, series: []});
      changed = true;
    }
  }));
  if (!changed) return;
  renderCharts(app);
  syncControls(app);
}

/**
 * Shows the whole-page empty state when the log directory has no runs.
 * @param {App} app
 */
function showEmptyPage(app) {
  const ui = app.ui;
  const none = !app.index.runs.length;
  ui.empty.hidden = !none;
  ui.main.hidden = none;
  ui.root.classList.toggle('is-empty', none);
  if (none) ui.empty.replaceChildren(views.emptyPage(false));
}

/**
 * One poll: `/index` (everything redrawn when it changed), then the selected runs' curves.
 * @param {App} app
 */
async function poll(app, again = true) {
  const ui = app.ui;
  const asked = app.store.get().runs.slice(-MAX_INDEX_RUNS);
  const seq = app.pollSeq = (app.pollSeq || 0) + 1;
  let data;
  try {
    data = await fetchIndex(asked);
  } catch (e) {
    app.error = e;
    ui.status.textContent = `Cannot reach the plugin: ${e.message}`;
    ui.status.classList.add('error');
    return;
  }
  if (seq < (app.pollShown || 0)) return;  // a newer poll's answer is on show already
  app.pollShown = seq;
  app.error = null;
  ui.status.classList.remove('error');
  app.lastPoll = new Date();
  ui.status.textContent = `Live · checked ${app.lastPoll.toLocaleTimeString()}`;
  const text = data === app.index ? app.indexText : JSON.stringify(data);  // the same object: unchanged
  const fresh = text !== app.indexText;
  if (fresh) {
    app.index = data;
    app.indexText = text;
    normalise(app);
    syncSlots(app);
    applyCompact(app);
    showEmptyPage(app);
    renderRunList(app);
    syncControls(app);
    renderPanels(app);
  }
  // Runs selected since the request (the first auto-selection, say) that came listed only: ask again, once
  // (runs past the MAX_INDEX_RUNS asked for stay listed only).
  const late = partialRuns(app.index, app.store.get().runs.slice(-MAX_INDEX_RUNS));
  if (again && late.some((run) => !asked.includes(run))) return poll(app, false);
  await refreshScalars(app, shownRuns(app), fresh);
}

/**
 * Redraws what a change of the view state touches, and writes the state into the URL.
 * @param {App} app
 * @param {ViewState} state
 * @param {Set<string>} changed  The keys that changed.
 */
function onStateChange(app, state, changed) {
  writeUrl(state);
  if (!app.index) return;
  if (changed.has('runs') || changed.has('group')) syncSlots(app);
  if (changed.has('group') && !changed.has('runs')) renderCharts(app);
  if (changed.has('runs') || changed.has('compact')) applyCompact(app);
  if (changed.has('runs') && app.hoverRun && !shownRuns(app).includes(app.hoverRun)) setHover(app, null);
  if (changed.has('runs') || changed.has('filter') || changed.has('group')) renderRunList(app);
  if (changed.has('runs')) {
    if (partialRuns(app.index, state.runs).length) poll(app);  // their steps come with the next /index
    refreshScalars(app, shownRuns(app).filter((r) => !app.scalars.has(r)));
    renderCharts(app);
  }
  syncControls(app);
  for (const chart of app.charts.values()) chart.setCursor(shownEpoch(app));
  if (PANEL_KEYS.some((k) => changed.has(k))) renderPanels(app);
  else if (changed.has('zoom')) applyZoomAll(app);
  if (changed.has('opacity')) redrawOpacity(app);
}

function loadStylesheet() {
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('./style.css', import.meta.url).href;
  document.head.appendChild(link);
}

/**
 * Polls every POLL_MS while the page is visible.
 * @param {App} app
 */
async function pollLoop(app) {
  if (!document.hidden) {
    try {
      await poll(app);
    } catch (e) {
      console.error('featureviz: update failed', e);
    }
  }
  setTimeout(() => pollLoop(app), POLL_MS);
}

/** Exposed for tests and debugging (read-only use); `app` is set by render(). */
export const _internals = {app: null, tileAt, lut, colorize};

/** Called by TensorBoard once the module is loaded. */
export async function render() {
  loadStylesheet();
  document.body.classList.add('featureviz-body');
  const ui = views.shell(exportMenu());
  document.body.appendChild(ui.root);
  const app = createApp(createStore({...defaultState(), ...readUrl()}), ui);
  _internals.app = app;
  app.store.subscribe((state, changed) => onStateChange(app, state, changed));
  wireControls(app);
  wireExport(app);
  syncControls(app);
  ui.status.textContent = 'Loading…';
  await pollLoop(app);
}
