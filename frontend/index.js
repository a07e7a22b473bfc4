// Entry point of the FeatureViz dashboard (TensorBoard imports this module and calls render()).
// Wires the pieces together: model.js (HTTP), state.js (view state + URL), chart.js (curves),
// colormap.js (colour maps) and views.js (DOM).

import {createChart} from './chart.js';
import {COLORMAPS, colorize, colorizedCanvas, cssGradient, lut} from './colormap.js';
import {exportUrl, fetchExport, fetchExportProgress, fetchIndex, fetchScalars, fetchSeries, fetchStep, loadImage, newJobId} from './model.js';
import {createStore, defaultState, KINDS, readUrl, writeUrl, ZOOMS} from './state.js';
import * as views from './views.js';

const POLL_MS = 2000;
const PLAY_MS = 700;
const EXPORT_POLL_MS = 250;   // how often a running export's progress is asked for
const PALETTE = ['#1a73e8', '#e8710a', '#12a4b5', '#d01884', '#7b3fe4', '#c58b00', '#3c9a3c', '#8d5b4c',
  '#5f6368', '#c5221f', '#0d652d', '#174ea6'];
const METRIC_ORDER = ['loss', 'accuracy', 'acc'];
const KIND_NOUN = {activations: 'activation grids', filters: 'filter patterns', gradcam: 'Grad-CAM heatmaps'};

const app = {
  store: null,
  ui: null,
  index: null,
  indexText: '',
  error: null,
  scalars: new Map(),       // run -> scalars JSON
  scalarsText: new Map(),   // run -> JSON text (change detection)
  charts: new Map(),        // metric -> chart
  panels: new Map(),        // run -> panel refs
  playTimer: null,
  firstGridMarked: false,
  lastPoll: null,
  exporting: null,          // the format being exported, or null
};

// ---------------------------------------------------------------------------------------------------
// Derived facts

function runInfo(run) {
  return app.index ? app.index.runs.find((r) => r.run === run) || null : null;
}

function runColor(run) {
  const i = app.index ? app.index.runs.findIndex((r) => r.run === run) : -1;
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}

function selectedRuns() {
  const s = app.store.get();
  return s.runs.filter((r) => runInfo(r));
}

function entriesOf(info, kind) {
  return (info && info.kinds && info.kinds[kind]) || [];
}

function entryFor(info, kind, layer) {
  return entriesOf(info, kind).find((e) => e.layer === layer) || null;
}

function layersFor(kind, runs) {
  const out = [];
  for (const run of runs) for (const e of entriesOf(runInfo(run), kind)) if (!out.includes(e.layer)) out.push(e.layer);
  return out;
}

function kindsAvailable(runs) {
  return KINDS.filter((k) => runs.some((r) => entriesOf(runInfo(r), k).length));
}

/** The epochs the slider covers: the union over the selected runs of the chosen tag's steps. */
function epochList() {
  const s = app.store.get();
  const set = new Set();
  for (const run of selectedRuns()) {
    const e = entryFor(runInfo(run), s.kind, s.layer);
    if (e) for (const step of e.steps) set.add(step);
  }
  if (!set.size) {
    for (const run of selectedRuns()) {
      const sc = app.scalars.get(run);
      if (sc) for (const series of sc.series) for (const p of series.points) set.add(p[0]);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/** The epoch on show: the newest one while following, otherwise the chosen one. */
function currentEpoch() {
  const s = app.store.get();
  const epochs = epochList();
  if (!epochs.length) return null;
  if (s.follow || s.epoch === null) return epochs[epochs.length - 1];
  return s.epoch;
}

function nearest(list, value) {
  let best = null;
  for (const v of list) if (best === null || Math.abs(v - value) < Math.abs(best - value)) best = v;
  return best;
}

function probeInfo(runs) {
  let count = 0;
  let labels = null;
  let names = null;
  for (const run of runs) {
    const p = (runInfo(run) || {}).probes;
    if (!p) continue;
    count = Math.max(count, p.count || 0);
    labels = labels || p.labels || null;
    names = names || p.class_names || null;
  }
  return {count, labels, names};
}

function className(info, entry, c) {
  const names = (info && info.probes && info.probes.class_names) || (entry && entry.extra && entry.extra.class_names);
  return names && names[c] !== undefined ? String(names[c]) : `class ${c}`;
}

// ---------------------------------------------------------------------------------------------------
// State normalisation: make the view valid for the data we have

function normalise() {
  const s = app.store.get();
  const patch = {};
  const runs = app.index.runs;
  let selected = s.runs.filter((r) => runInfo(r));
  if (!selected.length && runs.length && !app.didAutoSelect) {
    const first = runs.find((r) => r.featureviz) || runs[0];
    selected = [first.run];
    patch.runs = selected;
  }
  if (runs.length) app.didAutoSelect = true;
  const available = kindsAvailable(selected);
  if (available.length && !available.includes(s.kind)) patch.kind = available[0];
  const kind = patch.kind || s.kind;
  const layers = layersFor(kind, selected);
  if (layers.length && !layers.includes(s.layer)) patch.layer = layers[0];
  const probes = probeInfo(selected);
  if (probes.count && s.probe >= probes.count) patch.probe = 0;
  if (!COLORMAPS.includes(s.cmap)) patch.cmap = 'viridis';
  if (Object.keys(patch).length) app.store.set(patch);
}

// ---------------------------------------------------------------------------------------------------
// Toolbar and epoch bar

function syncControls() {
  const s = app.store.get();
  const ui = app.ui;
  const runs = selectedRuns();
  const available = kindsAvailable(runs);
  for (const [kind, b] of Object.entries(ui.kindButtons)) {
    b.setAttribute('aria-pressed', String(kind === s.kind));
    b.disabled = !available.includes(kind);
    b.title = available.includes(kind) ? '' : `The selected runs have no ${KIND_NOUN[kind]}`;
  }
  views.setOptions(ui.layerSelect, layersFor(s.kind, runs).map((l) => [l, l]), s.layer);
  const probes = probeInfo(runs);
  const probeOptions = [];
  for (let i = 0; i < probes.count; i++) {
    const label = probes.labels && probes.labels[i] !== null && probes.labels[i] !== undefined
      ? ` · ${probes.names && probes.names[probes.labels[i]] !== undefined ? probes.names[probes.labels[i]] : `class ${probes.labels[i]}`}`
      : '';
    probeOptions.push([String(i), `#${i + 1}${label}`]);
  }
  views.setOptions(ui.probeSelect, probeOptions, s.probe);
  ui.probeField.hidden = s.kind === 'filters';
  views.setOptions(ui.cmapSelect, COLORMAPS.map((c) => [c, c]), s.cmap);
  ui.cmapSwatch.style.background = cssGradient(camColormap(s.kind === 'gradcam' ? s.cmap : s.cmap));
  ui.cmapField.hidden = s.kind === 'filters';
  views.setOptions(ui.zoomSelect, ZOOMS.map((z) => [z, z === 'fit' ? 'Fit' : `${z}×`]), s.zoom);
  ui.opacityField.hidden = s.kind !== 'gradcam';
  ui.opacityInput.value = String(Math.round(s.opacity * 100));
  ui.opacityValue.textContent = `${Math.round(s.opacity * 100)}%`;

  const epochs = epochList();
  const epoch = currentEpoch();
  ui.slider.max = String(Math.max(0, epochs.length - 1));
  ui.slider.value = String(Math.max(0, epochs.indexOf(nearest(epochs, epoch ?? 0))));
  ui.slider.disabled = epochs.length < 2;
  ui.slider.setAttribute('aria-valuetext', epoch === null ? 'no epochs' : `Epoch ${epoch}`);
  ui.epochLabel.textContent = epoch === null ? 'No epochs yet' : `Epoch ${epoch}`;
  ui.epochLabel.dataset.epoch = epoch === null ? '' : String(epoch);
  ui.epochRange.textContent = epochs.length ? ` of ${epochs[0]}–${epochs[epochs.length - 1]}` : '';
  ui.followCheckbox.checked = s.follow;
  ui.prevButton.disabled = !epochs.length || epoch <= epochs[0];
  ui.nextButton.disabled = !epochs.length || epoch >= epochs[epochs.length - 1];
  ui.playButton.textContent = app.playTimer ? '❚❚ Pause' : '▶ Play';
  ui.playButton.setAttribute('aria-label', app.playTimer ? 'Pause' : 'Play epochs');
  ui.playButton.disabled = epochs.length < 2;
  syncExport();
}

function camColormap(cmap) {
  return cmap === 'gray' ? 'inferno' : cmap;
}

function setEpoch(epoch, {keepFollow = false} = {}) {
  const epochs = epochList();
  if (!epochs.length) return;
  const e = epochs.includes(epoch) ? epoch : nearest(epochs, epoch);
  const follow = keepFollow ? app.store.get().follow : false;
  app.store.set({epoch: e, follow: follow && e === epochs[epochs.length - 1]});
}

function stepEpoch(delta) {
  const epochs = epochList();
  if (!epochs.length) return;
  const i = epochs.indexOf(nearest(epochs, currentEpoch()));
  const j = Math.max(0, Math.min(epochs.length - 1, i + delta));
  setEpoch(epochs[j]);
}

function togglePlay(force) {
  const playing = force !== undefined ? force : !app.playTimer;
  if (app.playTimer) {
    clearInterval(app.playTimer);
    app.playTimer = null;
  }
  if (playing) {
    const epochs = epochList();
    if (epochs.length < 2) return syncControls();
    if (currentEpoch() === epochs[epochs.length - 1]) setEpoch(epochs[0]);
    else setEpoch(currentEpoch());
    app.playTimer = setInterval(() => {
      const list = epochList();
      const i = list.indexOf(nearest(list, currentEpoch()));
      setEpoch(list[(i + 1) % list.length]);
    }, PLAY_MS);
  }
  syncControls();
}

function wireControls() {
  const ui = app.ui;
  const set = (patch) => app.store.set(patch);
  for (const [kind, b] of Object.entries(ui.kindButtons)) b.addEventListener('click', () => {
    const layers = layersFor(kind, selectedRuns());
    const s = app.store.get();
    set({kind, layer: layers.includes(s.layer) ? s.layer : layers[0] || null, channel: null});
  });
  ui.layerSelect.addEventListener('change', () => set({layer: ui.layerSelect.value, channel: null}));
  ui.probeSelect.addEventListener('change', () => set({probe: Number(ui.probeSelect.value)}));
  ui.cmapSelect.addEventListener('change', () => set({cmap: ui.cmapSelect.value}));
  ui.zoomSelect.addEventListener('change', () => set({zoom: ui.zoomSelect.value}));
  ui.opacityInput.addEventListener('input', () => set({opacity: Number(ui.opacityInput.value) / 100}));
  ui.slider.addEventListener('input', () => {
    const picked = epochList()[Number(ui.slider.value)];
    togglePlay(false);
    setEpoch(picked);
  });
  ui.prevButton.addEventListener('click', () => { togglePlay(false); stepEpoch(-1); });
  ui.nextButton.addEventListener('click', () => { togglePlay(false); stepEpoch(1); });
  ui.playButton.addEventListener('click', () => togglePlay());
  ui.followCheckbox.addEventListener('change', () => {
    if (ui.followCheckbox.checked) togglePlay(false);
    set({follow: ui.followCheckbox.checked, epoch: ui.followCheckbox.checked ? null : currentEpoch()});
  });
  ui.runFilter.addEventListener('input', renderRunList);
  document.addEventListener('keydown', (event) => {
    const t = event.target;
    const tag = t && t.tagName;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || (t && t.dataset && t.dataset.ownKeys)) return;
    if (event.key === 'ArrowLeft') { togglePlay(false); stepEpoch(-1); event.preventDefault(); }
    else if (event.key === 'ArrowRight') { togglePlay(false); stepEpoch(1); event.preventDefault(); }
    else if (event.key === 'Home') { togglePlay(false); setEpoch(epochList()[0]); event.preventDefault(); }
    else if (event.key === 'End') { togglePlay(false); setEpoch(epochList().at(-1)); event.preventDefault(); }
    else if (event.key === 'Escape' && app.store.get().channel !== null) set({channel: null});
  });
  let resizeFrame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(applyZoomAll);
  }).observe(ui.panels);
}

// ---------------------------------------------------------------------------------------------------
// Export: the current view as a downloaded file (GET export, tb_featureviz/export/http.py)

/**
 * The open channel (activations) or filter (filters) of the view, when a panel shows its tile drilled
 * down at this epoch (not for Grad-CAM).
 */
function openChannel() {
  const s = app.store.get();
  if (s.channel === null || s.kind === 'gradcam') return null;
  return selectedRuns().some((r) => (app.panels.get(r) || {}).channelShown === s.channel) ? s.channel : null;
}

/** The integer zoom the view is drawn at (the first panel's canvas), for PNG/GIF `scale`. */
function screenScale(channel) {
  const selector = channel !== null ? '.drill-canvas' : 'canvas.zoomable';
  const c = app.ui.panels.querySelector(selector);
  if (!c) return null;
  const k = channel !== null ? Math.round(c.getBoundingClientRect().width / Math.max(1, c.width)) : Number(c.dataset.zoom);
  return Number.isFinite(k) && k > 1 ? Math.min(8, k) : null;
}

/** What Export sends for the current view and a format, or null when nothing can be exported. */
function exportView(format) {
  const s = app.store.get();
  const runs = selectedRuns().filter((r) => (runInfo(r) || {}).featureviz);
  const epoch = currentEpoch();
  if (!runs.length || !s.layer || epoch === null) return null;
  const allEpochs = format === 'gif' || app.ui.exportMenu.epochAll.checked;
  const channel = format === 'png' || format === 'gif' ? openChannel() : null;
  return {
    runs,
    kind: s.kind,
    layer: s.layer,
    epochs: allEpochs ? 'all' : epoch,
    probe: s.kind === 'filters' ? null : s.probe,
    colormap: s.kind === 'activations' ? s.cmap : s.kind === 'gradcam' ? camColormap(s.cmap) : null,
    channel,
    scale: format === 'png' || format === 'gif' ? screenScale(channel) : null,
  };
}

function syncExport() {
  const m = app.ui.exportMenu;
  const s = app.store.get();
  const view = app.index ? exportView('html') : null;
  const busy = app.exporting !== null;
  m.button.disabled = !view && !busy;
  m.button.title = view ? 'Download the current view' : 'Select a run with FeatureViz data to export it';
  m.button.setAttribute('aria-busy', String(busy));
  m.button.classList.toggle('busy', busy);
  m.button.firstChild.textContent = busy ? 'Exporting…' : 'Export';
  if (!view) {
    if (!busy) closeExportMenu(false);
    return;
  }
  const epoch = currentEpoch();
  const epochs = epochList();
  m.currentText.textContent = `This epoch (${epoch})`;
  m.allText.textContent = epochs.length > 1 ? `All epochs (${epochs[0]}–${epochs[epochs.length - 1]})` : 'All epochs';
  const bits = [view.runs.join(', '), views.KIND_LABELS[s.kind], s.layer];
  if (view.probe !== null) bits.push(`probe #${view.probe + 1}`);
  if (view.colormap) bits.push(view.colormap);
  m.summary.textContent = bits.join(' · ');
  const channel = openChannel();
  const noun = s.kind === 'filters' ? 'Filter' : 'Channel';
  const where = m.epochAll.checked ? 'every epoch' : `epoch ${epoch}`;
  m.items.html.detail.textContent = `Grids and curves in one page, ${where}`;
  m.items.png.detail.textContent = channel !== null ? `${noun} ${channel} at ${where}` : `The picture on screen at ${where}`;
  m.items.gif.detail.textContent = channel !== null ? `${noun} ${channel}, one frame per epoch` : 'One frame per epoch';
  m.items.zip.detail.textContent = `The stored images byte for byte, ${where}`;
  for (const [format, item] of Object.entries(m.items)) {
    item.button.disabled = busy;
    item.button.setAttribute('aria-busy', String(app.exporting === format));
  }
}

function openExportMenu() {
  const m = app.ui.exportMenu;
  if (m.button.disabled) return;
  m.popover.hidden = false;
  m.button.setAttribute('aria-expanded', 'true');
  syncExport();
  const first = m.epochCurrent.checked ? m.epochCurrent : m.epochAll;
  first.focus();
}

function closeExportMenu(focusButton = true) {
  const m = app.ui.exportMenu;
  if (m.popover.hidden) return;
  m.popover.hidden = true;
  m.button.setAttribute('aria-expanded', 'false');
  if (focusButton) m.button.focus();
}

/** Shows `text` under the export buttons; `progress` ({done, total}) adds a progress bar. */
function exportNotice(text, tone, progress = null) {
  const n = app.ui.exportMenu.notice;
  n.hidden = !text;
  n.className = `export-notice ${tone || ''}`;
  n.setAttribute('role', tone === 'error' ? 'alert' : 'status');
  if (!progress) {
    n.textContent = text || '';
    return;
  }
  const bar = views.h('progress', {class: 'export-progress', max: Math.max(1, progress.total), value: progress.done});
  n.replaceChildren(views.h('span', {class: 'export-progress-box'}, views.h('span', {text}), bar));
}

const PHASE_TEXT = {read: 'Reading', render: 'Rendering'};

/**
 * Polls the server's progress of export `job` and draws it while `isRunning()`; returns a stop function.
 * A poll that fails (the job has not reached the server yet) is skipped.
 */
function followExportProgress(job, label, isRunning) {
  let timer = null;
  let stopped = false;
  const poll = async () => {
    try {
      const p = await fetchExportProgress(job);
      if (!stopped && isRunning() && p.state !== 'failed' && p.total > 0) {
        exportNotice(`${label}: ${PHASE_TEXT[p.phase] || p.phase} ${p.done}/${p.total}`, 'busy', p);
      }
    } catch (e) {
      // Not started yet, or the server forgot it: the busy notice stays.
    }
    if (!stopped) timer = setTimeout(poll, EXPORT_POLL_MS);
  };
  timer = setTimeout(poll, EXPORT_POLL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Saves a downloaded blob under `filename` through a hidden <a download> (same origin). */
function saveBlob(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = views.h('a', {href, download: filename, hidden: true});
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

async function runExport(format) {
  if (app.exporting !== null) return;
  const view = exportView(format);
  if (!view) return;
  const label = views.EXPORT_FORMATS.find(([f]) => f === format)[1];
  app.exporting = format;
  const name = label.replace(/ \(.*\)$/, '');
  const what = `Exporting ${name[0].toLowerCase()}${name.slice(1)} (${format.toUpperCase()})`;
  exportNotice(`${what}…`, 'busy');
  syncExport();
  const job = newJobId();
  const stopProgress = followExportProgress(job, what, () => app.exporting === format);
  try {
    const {blob, filename, damaged} = await fetchExport(exportUrl(view, format, job), `featureviz-export.${format}`);
    saveBlob(blob, filename);
    app.exporting = null;
    syncExport();
    if (damaged) {  // the file holds everything else; keep the menu open so the note is read
      exportNotice(`Exported without ${damaged} damaged image${damaged > 1 ? 's' : ''} (their bytes in the event files do not decode).`, 'error');
    } else {
      exportNotice('', '');
      closeExportMenu(app.ui.exportMenu.popover.contains(document.activeElement));
    }
  } catch (e) {
    app.exporting = null;
    exportNotice(`Export failed: ${e && e.message ? e.message : e}`, 'error');
    syncExport();
    if (app.ui.exportMenu.popover.hidden) openExportMenu();
  } finally {
    stopProgress();
  }
}

function wireExport() {
  const m = app.ui.exportMenu;
  m.button.addEventListener('click', () => (m.popover.hidden ? openExportMenu() : closeExportMenu()));
  for (const [format, item] of Object.entries(m.items)) item.button.addEventListener('click', () => runExport(format));
  for (const r of [m.epochCurrent, m.epochAll]) r.addEventListener('change', () => { exportNotice('', ''); syncExport(); });
  m.element.addEventListener('keydown', (event) => {
    const open = !m.popover.hidden;
    const buttons = Object.values(m.items).map((i) => i.button).filter((b) => !b.disabled);
    const at = buttons.indexOf(document.activeElement);
    if (event.key === 'Escape' && open) {
      closeExportMenu();
      event.preventDefault();
      event.stopPropagation();
    } else if (event.key === 'ArrowDown' && event.target === m.button && !open) {
      openExportMenu();
      event.preventDefault();
    } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && at >= 0) {
      const next = buttons[(at + (event.key === 'ArrowDown' ? 1 : buttons.length - 1)) % buttons.length];
      next.focus();
      event.preventDefault();
    }
    // Keys used inside the menu do not also step epochs or close the channel view.
    if (event.key !== 'Tab' && m.popover.contains(event.target)) event.stopPropagation();
  });
  document.addEventListener('pointerdown', (event) => {
    if (!m.popover.hidden && !m.element.contains(event.target)) closeExportMenu(false);
  });
  m.element.addEventListener('focusout', (event) => {
    if (!m.popover.hidden && event.relatedTarget && !m.element.contains(event.relatedTarget)) closeExportMenu(false);
  });
}

// ---------------------------------------------------------------------------------------------------
// Runs list

function renderRunList() {
  const ui = app.ui;
  const s = app.store.get();
  const filter = ui.runFilter.value.trim().toLowerCase();
  const items = [];
  for (const info of app.index.runs) {
    if (filter && !info.run.toLowerCase().includes(filter) && !s.runs.includes(info.run)) continue;
    const n = (info.steps || []).length;
    const note = info.featureviz ? `${n} epoch${n === 1 ? '' : 's'}` : 'curves only';
    items.push(views.runItem(info.run, runColor(info.run), s.runs.includes(info.run), note, toggleRun));
  }
  ui.runList.replaceChildren(...items);
  ui.runFilter.hidden = app.index.runs.length < 8;
}

function toggleRun(run, on) {
  const s = app.store.get();
  const runs = on ? [...s.runs.filter((r) => r !== run), run] : s.runs.filter((r) => r !== run);
  app.store.set({runs});
  normalise();
}

// ---------------------------------------------------------------------------------------------------
// Curves

function metricOrder(a, b) {
  const ia = METRIC_ORDER.indexOf(a);
  const ib = METRIC_ORDER.indexOf(b);
  if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

function renderCharts() {
  const ui = app.ui;
  const runs = selectedRuns();
  const byMetric = new Map();
  for (const run of runs) {
    const sc = app.scalars.get(run);
    if (!sc) continue;
    for (const series of sc.series) {
      if (!byMetric.has(series.metric)) byMetric.set(series.metric, []);
      byMetric.get(series.metric).push({
        run, split: series.split, color: runColor(run), points: series.points.map((p) => [p[0], p[2]]),
      });
    }
  }
  const metrics = [...byMetric.keys()].sort(metricOrder);
  for (const [metric, chart] of app.charts) {
    if (!byMetric.has(metric)) {
      chart.element.remove();
      app.charts.delete(metric);
    }
  }
  const cursor = currentEpoch();
  const ordered = [];
  for (const metric of metrics) {
    if (!app.charts.has(metric)) {
      app.charts.set(metric, createChart({title: metric, onPick: (epoch) => { togglePlay(false); setEpoch(epoch); }}));
    }
    const chart = app.charts.get(metric);
    chart.update({series: byMetric.get(metric), cursor});
    ordered.push(chart.element);
  }
  if (!metrics.length) {
    const loading = runs.some((r) => !app.scalars.has(r));
    ordered.push(views.h('p', {class: 'muted', text: loading ? 'Loading curves…' : 'No loss or metric curves in the selected runs.'}));
  }
  ui.charts.replaceChildren(...ordered);
  ui.legend.replaceChildren(...(metrics.length ? views.legend(runs.map((r) => [r, runColor(r)])) : []));
}

async function refreshScalars(runs) {
  await Promise.all(runs.map(async (run) => {
    try {
      const data = await fetchScalars(run);
      const text = JSON.stringify(data);
      if (app.scalarsText.get(run) === text) return;
      app.scalarsText.set(run, text);
      app.scalars.set(run, data);
    } catch (e) {
      app.scalars.set(run, {run, series: []});
    }
  }));
  renderCharts();
  syncControls();
}

// ---------------------------------------------------------------------------------------------------
// Panels

function zoomFactor(naturalWidth, available) {
  const z = app.store.get().zoom;
  if (z !== 'fit') return Number(z);
  return Math.max(1, Math.floor(available / naturalWidth));
}

function applyZoom(canvas) {
  const box = canvas.closest('.grid-scroll') || canvas.parentElement;
  const style = box ? getComputedStyle(box) : null;
  const padding = style ? (parseFloat(style.paddingLeft) || 0) + (parseFloat(style.paddingRight) || 0) : 0;
  const available = Math.max(64, (box ? box.clientWidth - padding : 400) - 2);
  const maxFit = Number(canvas.dataset.maxFit || 0);
  let k = zoomFactor(canvas.width, available);
  if (app.store.get().zoom === 'fit' && maxFit) k = Math.min(k, maxFit);
  const fitsNatively = canvas.width <= available;
  if (app.store.get().zoom === 'fit' && !fitsNatively) {
    canvas.style.width = '100%';
    canvas.style.height = 'auto';
  } else {
    canvas.style.width = `${canvas.width * k}px`;
    canvas.style.height = `${canvas.height * k}px`;
  }
  canvas.dataset.zoom = String(k);
}

function applyZoomAll() {
  for (const c of app.ui.panels.querySelectorAll('canvas.zoomable')) applyZoom(c);
}

function ensurePanels() {
  const runs = selectedRuns();
  for (const [run, p] of app.panels) {
    if (!runs.includes(run)) {
      p.element.remove();
      app.panels.delete(run);
    }
  }
  const ordered = runs.map((run) => {
    if (!app.panels.has(run)) {
      const p = views.panel(run, runColor(run));
      p.seq = 0;
      app.panels.set(run, p);
    }
    return app.panels.get(run).element;
  });
  const ui = app.ui;
  const cur = [...ui.panels.children];
  if (cur.length !== ordered.length || cur.some((c, i) => c !== ordered[i])) ui.panels.replaceChildren(...ordered);
  ui.panels.dataset.count = String(ordered.length);
  if (!ordered.length) {
    ui.panels.replaceChildren(views.h('div', {class: 'panel placeholder'},
      views.message('No run selected', 'Tick a run in the list on the left to see what its network learned.')));
  }
}

function renderPanels() {
  ensurePanels();
  for (const run of selectedRuns()) updatePanel(run);
}

function markFirstGrid() {
  if (app.firstGridMarked) return;
  app.firstGridMarked = true;
  try {
    performance.mark('featureviz:first-grid');
  } catch (e) {
    // Old browsers: no marks.
  }
}

async function updatePanel(run) {
  const p = app.panels.get(run);
  if (!p) return;
  const seq = ++p.seq;
  const stale = () => p.seq !== seq;
  const s = app.store.get();
  const info = runInfo(run);
  const epoch = currentEpoch();
  p.element.dataset.epoch = epoch === null ? '' : String(epoch);
  p.channelShown = null;
  const show = (nodes, sub, detail = []) => {
    if (stale()) return;
    p.subtitle.textContent = sub;
    p.body.replaceChildren(...nodes);
    p.detail.replaceChildren(...detail);
  };
  if (!info.featureviz) {
    show([views.message('This run has curves but no FeatureViz data',
      'Add the FeatureViz callback to its training to see activations, filter patterns and Grad-CAM here:',
      {snippet: true})], 'curves only');
    return;
  }
  const entry = entryFor(info, s.kind, s.layer);
  if (!entry) {
    const what = KIND_NOUN[s.kind];
    const text = entriesOf(info, s.kind).length
      ? `This run has ${what} for ${entriesOf(info, s.kind).map((e) => e.layer).join(', ')}.`
      : `The callback writes them unless they are switched off (filter_patterns=False, gradcam=False).`;
    show([views.message(`No ${what} for layer ${s.layer} in this run`, text)], '');
    return;
  }
  if (epoch === null || !entry.steps.includes(epoch)) {
    const steps = entry.steps;
    const range = steps.length ? `This run has ${KIND_NOUN[s.kind]} for epoch${steps.length > 1 ? 's' : ''} ` +
      `${steps.length > 6 ? `${steps[0]}–${steps[steps.length - 1]} (${steps.length} epochs)` : steps.join(', ')}.` : '';
    show([views.message(`No ${KIND_NOUN[s.kind]} at epoch ${epoch} in this run`, range)],
      `${entry.layer} · epoch ${epoch}`);
    return;
  }
  try {
    if (s.kind === 'gradcam') await showGradcam(p, run, info, entry, epoch, show, stale);
    else await showGrid(p, run, info, entry, epoch, show, stale);
  } catch (e) {
    if (e && e.damaged) {  // this epoch's record or image: the other epochs are still readable
      show([views.damagedTile(`The record of ${entry.layer} at epoch ${epoch}`, e.message)],
        `${entry.layer} · epoch ${epoch} · damaged`);
      return;
    }
    show([views.message('Could not load this view', String(e && e.message ? e.message : e), {tone: 'error'})], '');
  }
}

function tileAt(layout, x, y) {
  const col = Math.floor(x / (layout.tile_width + layout.padding));
  const row = Math.floor(y / (layout.tile_height + layout.padding));
  if (x - col * (layout.tile_width + layout.padding) >= layout.tile_width) return null;
  if (y - row * (layout.tile_height + layout.padding) >= layout.tile_height) return null;
  if (col < 0 || row < 0 || col >= layout.cols) return null;
  const k = row * layout.cols + col;
  return k < layout.count ? k : null;
}

function tileRect(layout, k) {
  return [(k % layout.cols) * (layout.tile_width + layout.padding),
    Math.floor(k / layout.cols) * (layout.tile_height + layout.padding), layout.tile_width, layout.tile_height];
}

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

// Tile k of a grid shows channel record.channels[k] of a reduced activation grid (channel k without
// that list), and filter record.filters[k] of a filter grid. The view state's `channel` holds that
// channel or filter index, never a tile position: it names the same channel at every epoch, under a
// filter rotation too, and is what the export's `channel` means.

function tileList(kind, record) {
  const list = kind === 'filters' ? record && record.filters : record && record.channels;
  return Array.isArray(list) ? list : null;
}

/** The channel (activations) or filter (filters) that tile `k` shows. */
function tileChannel(kind, record, k) {
  const list = tileList(kind, record);
  return list && list[k] !== undefined ? Number(list[k]) : k;
}

/** The tile that shows channel or filter `c`, or null when this record's grid does not draw it. */
function tileOf(kind, record, c, count) {
  if (c === null || c === undefined) return null;
  const list = tileList(kind, record);
  if (list) {
    const k = list.findIndex((v) => Number(v) === c);
    return k < 0 || k >= count ? null : k;
  }
  return c < count ? c : null;
}

function tileName(kind, record, k) {
  return `${kind === 'filters' ? 'Filter' : 'Channel'} ${tileChannel(kind, record, k)}`;
}

const span = (pair) => `${pair[0]}–${pair[1]}`;

/** ", tiles 8×8 of 30×30 (1/4)" for tiles shrunk `scale` times from `h`×`w`, else ''. */
function shrinkText(scale, layout, h, w) {
  if (!(scale > 1) || !layout) return '';
  const of = h && w ? ` of ${w}×${h}` : '';
  return `, tiles ${layout.tile_width}×${layout.tile_height}${of} (1/${scale})`;
}

/** Whether a filter schedule draws a window of the layer's filters rather than all of them. */
function rotating(schedule) {
  return Boolean(schedule && Array.isArray(schedule.window) && schedule.of &&
    !(schedule.window[0] <= 0 && schedule.window[1] >= schedule.of - 1));
}

/**
 * What a grid shows: "400 of 512 channels (most variable), tiles 8×8 of 30×30 (1/4)" for a reduced
 * activation grid, "filters 0–127 of 512 (+16 fixed), next 128–255 at epoch 10" under a filter rotation.
 */
function gridSummary(kind, record, layout, count) {
  if (kind === 'filters') {
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
  const shape = record.shape || [];
  const total = shape.length === 3 ? shape[2] : count;
  const list = tileList(kind, record);
  const shown = list ? list.length : count;
  const text = list && shown < total ? `${shown} of ${total} channels (most variable)` : `${shown} channels`;
  return text + shrinkText(record.scale, layout, shape[0], shape[1]);
}

/** The warning of a record with non-finite values (a diverged model: drawn as 0, null in the record), or null. */
function nonfiniteNote(record) {
  const n = record && Number.isInteger(record.nonfinite) ? record.nonfinite : 0;
  if (n <= 0) return null;
  return views.h('p', {class: 'nonfinite-note', role: 'note',
    text: `Non-finite: ${n} NaN or inf value${n > 1 ? 's' : ''} (the model diverged); drawn as 0.`});
}

async function showGrid(p, run, info, entry, epoch, show, stale) {
  const s = app.store.get();
  const step = await fetchStep(run, entry.tag, epoch);
  if (stale()) return;
  const imageIndex = s.kind === 'activations' ? s.probe : 0;
  const url = step.images[imageIndex];
  if (!url) {
    show([views.message(`No image for probe #${s.probe + 1} at epoch ${epoch}`, '')], entry.layer);
    return;
  }
  let img;
  try {
    img = await loadImage(url);
  } catch (e) {
    if (!(e && e.damaged)) throw e;
    if (stale()) return;
    const what = s.kind === 'activations' ? `The activation grid of probe #${s.probe + 1} at epoch ${epoch}`
      : `The filter patterns at epoch ${epoch}`;
    show([views.damagedTile(what, e.message)], `${entry.layer} · epoch ${epoch} · damaged`);
    return;
  }
  if (stale()) return;
  const cmap = s.kind === 'activations' ? s.cmap : null;
  const canvas = colorizedCanvas(img, cmap);
  canvas.className = 'grid-canvas zoomable';
  canvas.tabIndex = 0;
  canvas.dataset.ownKeys = '1';
  canvas.dataset.naturalWidth = String(img.naturalWidth);
  canvas.dataset.naturalHeight = String(img.naturalHeight);
  const layout = entry.layout;
  const record = step.record || {};
  const count = layout ? layout.count : 0;
  const noun = s.kind === 'activations' ? 'channel' : 'filter';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${views.KIND_LABELS[s.kind]} of ${entry.layer}, epoch ${epoch}: ${count} ${noun}s. ` +
    `Arrow keys choose a ${noun}, Enter opens it.`);
  const dead = new Set(s.kind === 'activations' ? record.dead || [] : []);
  const isDead = (k) => dead.has(tileChannel(s.kind, record, k));
  const captionBits = [gridSummary(s.kind, record, layout, count), `${img.naturalWidth}×${img.naturalHeight} px`];
  if (dead.size) {
    const list = tileList(s.kind, record);
    const shown = list ? list.filter((c) => dead.has(c)).length : dead.size;
    captionBits.push(`${dead.size} dead (all zero)${shown < dead.size ? `, ${shown || 'none'} shown` : ''}`);
  }
  if (s.kind === 'activations') captionBits.push(`probe #${s.probe + 1}`);
  const fig = views.gridFigure(canvas, captionBits.join(' · '));
  const nonfinite = nonfiniteNote(record);
  if (nonfinite) fig.element.appendChild(nonfinite);
  const openTile = layout ? tileOf(s.kind, record, s.channel, count) : null;
  if (layout) {
    let focusK = openTile !== null ? openTile : 0;
    placeBox(fig.highlight, canvas, layout, openTile);
    const pick = (k) => app.store.set({channel: tileChannel(s.kind, record, k)});
    canvas.addEventListener('click', (event) => {
      const r = canvas.getBoundingClientRect();
      const x = ((event.clientX - r.left) / r.width) * canvas.width;
      const y = ((event.clientY - r.top) / r.height) * canvas.height;
      const k = tileAt(layout, x, y);
      if (k !== null) pick(k);
    });
    canvas.addEventListener('mousemove', (event) => {
      const r = canvas.getBoundingClientRect();
      const k = tileAt(layout, ((event.clientX - r.left) / r.width) * canvas.width,
        ((event.clientY - r.top) / r.height) * canvas.height);
      canvas.title = k === null ? '' : `${tileName(s.kind, record, k)}${isDead(k) ? ' (dead)' : ''} — click to enlarge`;
      canvas.style.cursor = k === null ? 'default' : 'pointer';
    });
    canvas.addEventListener('focus', () => placeBox(fig.focus, canvas, layout, focusK));
    canvas.addEventListener('blur', () => { fig.focus.hidden = true; });
    canvas.addEventListener('keydown', (event) => {
      const moves = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: -layout.cols, ArrowDown: layout.cols};
      if (event.key in moves) {
        focusK = Math.max(0, Math.min(count - 1, focusK + moves[event.key]));
        placeBox(fig.focus, canvas, layout, focusK);
        canvas.setAttribute('aria-label', `${tileName(s.kind, record, focusK)} selected. Press Enter to open it.`);
        event.preventDefault();
      } else if (event.key === 'Enter' || event.key === ' ') {
        pick(focusK);
        event.preventDefault();
      } else if (event.key === 'Escape') {
        app.store.set({channel: null});
      }
    });
  }
  const detail = [];
  if (layout && s.channel !== null && (openTile !== null || s.kind === 'filters' || tileList(s.kind, record))) {
    detail.push(buildDrilldown(run, entry, epoch, record, img, imageIndex, openTile));
  }
  show([fig.element], `${entry.layer} · epoch ${epoch}`, detail);
  applyZoom(canvas);
  if (stale()) return;
  p.channelShown = openTile !== null ? s.channel : null;
  syncExport();
  markFirstGrid();
}

function cropTile(img, layout, k, cmap) {
  return colorizedCanvas(img, cmap, tileRect(layout, k));
}

/**
 * The drill-down of channel (or filter) s.channel: the enlarged tile `tile` of this epoch's grid, or a
 * note when this epoch's grid does not draw it, and a filmstrip of the epochs that do.
 */
function buildDrilldown(run, entry, epoch, record, img, imageIndex, tile) {
  const s = app.store.get();
  const layout = entry.layout;
  const channel = s.channel;
  const cmap = s.kind === 'activations' ? s.cmap : null;
  const filters = s.kind === 'filters';
  const name = `${filters ? 'Filter' : 'Channel'} ${channel}`;
  const dd = views.drilldown(`${name} of ${entry.layer}`, () => app.store.set({channel: null}));
  dd.element.dataset.channel = String(channel);
  const facts = [`epoch ${epoch}`];
  if (tile !== null) {
    const big = cropTile(img, layout, tile, cmap);
    big.className = 'drill-canvas';
    const bigZoom = Math.max(1, Math.floor(192 / Math.max(layout.tile_width, layout.tile_height)));
    big.style.width = `${layout.tile_width * bigZoom}px`;
    big.style.height = `${layout.tile_height * bigZoom}px`;
    big.setAttribute('role', 'img');
    big.setAttribute('aria-label', `${name} at epoch ${epoch}, enlarged ${bigZoom}×`);
    dd.big.appendChild(big);
    const shape = record.shape || [];
    const [h, w] = filters ? [record.size, record.size] : [shape[0], shape[1]];
    const shrunk = record.scale > 1 ? ` (1/${record.scale} of ${w}×${h})` : '';
    facts.push(`${layout.tile_width}×${layout.tile_height} px${shrunk} shown at ${bigZoom}×`);
    if (!filters) {
      facts.push(`probe #${s.probe + 1}`);
      if ((record.dead || []).includes(channel)) facts.push('dead: zero for every probe image');
    } else {
      if (record.activation && record.activation[tile] !== undefined) {
        const value = record.activation[tile];  // null: non-finite (a diverged model)
        facts.push(value === null ? 'mean activation non-finite (NaN or inf)' : `mean activation ${Number(value).toPrecision(4)}`);
      }
      if (record.schedule && tile < (record.schedule.fixed || 0)) facts.push('one of the fixed filters, drawn at every pass');
    }
  } else if (filters) {
    const sch = record.schedule;
    const fixed = sch && sch.fixed ? ` and ${sch.fixed} fixed ones` : '';
    const drew = rotating(sch) ? `This epoch drew filters ${span(sch.window)} of ${sch.of}${fixed}.` : '';
    dd.big.appendChild(views.message(`Filter ${channel} was not drawn at epoch ${epoch}`,
      `${drew} The frames below are the epochs that drew it.`.trim()));
  } else {
    dd.big.appendChild(views.message(`Channel ${channel} is not in this grid`,
      `The grid shows ${gridSummary('activations', record, layout, layout.count)}.`));
  }
  dd.info.replaceChildren(...facts.map((f) => views.h('div', {text: f})));
  dd.info.hidden = tile === null;  // the note says it all
  if (filters) fillFilterFilmstrip(dd, run, entry, layout, channel, epoch);
  else if (tile !== null) fillFilmstrip(dd, run, entry, imageIndex, layout, tile, cmap, epoch);
  else dd.label.hidden = true;
  return dd.element;
}

/** The filmstrip of a tile that is the same at every epoch (activation grids: channels never move). */
async function fillFilmstrip(dd, run, entry, imageIndex, layout, tile, cmap, epoch) {
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
  await fillFrames(dd.strip, run, entry, imageIndex, layout, cmap, epoch, items);
}

/** The filmstrip of a filter: at each epoch the tile that drew it; epochs whose rotation left it out are skipped. */
async function fillFilterFilmstrip(dd, run, entry, layout, filter, epoch) {
  const steps = await Promise.all(entry.steps.map((step) => fetchStep(run, entry.tag, step).catch(() => null)));
  const items = [];
  for (const [i, step] of entry.steps.entries()) {
    const data = steps[i];
    const tile = data ? tileOf('filters', data.record || {}, filter, layout.count) : null;
    if (tile !== null && data.images[0]) items.push({step, url: data.images[0], tile});
  }
  const skipped = entry.steps.length - items.length;
  if (!items.length) dd.label.textContent = `No epoch drew filter ${filter}`;
  else if (skipped) dd.label.textContent = `Epochs that drew filter ${filter} (${items.length} of ${entry.steps.length}; click a frame to go there)`;
  await fillFrames(dd.strip, run, entry, 0, layout, null, epoch, items);
}

/** Fills a filmstrip with one frame per item ({step, url | null, tile}): that tile of that epoch's grid. */
async function fillFrames(strip, run, entry, imageIndex, layout, cmap, epoch, items) {
  const frameZoom = Math.max(1, Math.floor(56 / Math.max(layout.tile_width, layout.tile_height)));
  const frames = items.map((item) => {
    const f = views.filmFrame(item.step, item.step === epoch, (e) => { togglePlay(false); setEpoch(e); });
    return {...f, ...item};
  });
  strip.replaceChildren(...frames.map((f) => f.element));
  const current = frames.find((f) => f.step === epoch);
  if (current) requestAnimationFrame(() => {
    const sl = strip.scrollLeft;
    const el = current.element;
    if (el.offsetLeft < sl || el.offsetLeft + el.offsetWidth > sl + strip.clientWidth) {
      strip.scrollLeft = el.offsetLeft - strip.clientWidth / 2;
    }
  });
  await Promise.all(frames.map(async (f) => {
    try {
      const url = f.url || (await fetchStep(run, entry.tag, f.step)).images[imageIndex];
      const img = await loadImage(url);
      const c = cropTile(img, layout, f.tile, cmap);
      c.className = 'frame-canvas';
      c.style.width = `${layout.tile_width * frameZoom}px`;
      c.style.height = `${layout.tile_height * frameZoom}px`;
      f.slot.replaceChildren(c);
    } catch (e) {
      if (e && e.damaged) f.slot.replaceChildren(views.damagedTile(`Epoch ${f.step}`, e.message, {small: true}));
      else f.slot.textContent = '–';
    }
  }));
}

const probeImageCache = new Map();

function probeImage(run, probe) {
  const key = JSON.stringify([run, probe]);
  const known = ((runInfo(run) || {}).probes || {}).images;
  if (known && known[probe]) return loadImage(known[probe]);
  if (!probeImageCache.has(key)) {
    const p = fetchSeries(run, 'probes', probe).then((series) => loadImage(series.images[0]));
    p.catch(() => probeImageCache.delete(key));
    probeImageCache.set(key, p);
  }
  return probeImageCache.get(key);
}

async function showGradcam(p, run, info, entry, epoch, show, stale) {
  const s = app.store.get();
  const step = await fetchStep(run, entry.tag, epoch);
  if (stale()) return;
  const rec = ((step.record || {}).probes || []).find((q) => q.probe === s.probe) || (step.record.probes || [])[s.probe];
  if (!rec) {
    show([views.message(`No Grad-CAM for probe #${s.probe + 1} at epoch ${epoch}`, '')], entry.layer);
    return;
  }
  let probeImg = null;
  let probeDamaged = false;
  try {
    probeImg = await probeImage(run, s.probe);
  } catch (e) {
    probeImg = null;
    probeDamaged = Boolean(e && e.damaged);
  }
  const targets = rec.targets || [];
  // A damaged heatmap becomes a "damaged" tile in its place; the other targets are still drawn.
  const heats = await Promise.all(targets.map((t) => loadImage(step.images[t.heatmap - 1]).catch((e) => {
    if (e && e.damaged) return e;
    throw e;
  })));
  if (stale()) return;
  const cmap = camColormap(s.cmap);
  const figures = targets.map((t, i) => {
    const heat = heats[i];
    if (heat instanceof Error) {
      const heading = t.target === 'predicted' ? 'Predicted class' : t.target === 'true' ? 'True class' : `Target “${t.target}”`;
      return views.h('figure', {class: 'cam-figure', dataset: {target: t.target}},
        views.h('div', {class: 'cam-heading', text: heading}),
        views.damagedTile(`The ${t.target} class heatmap at epoch ${epoch}`, heat.message));
    }
    const canvas = document.createElement('canvas');
    canvas.width = heat.naturalWidth;
    canvas.height = heat.naturalHeight;
    canvas.className = 'cam-canvas zoomable';
    canvas.dataset.target = t.target;
    canvas.dataset.maxFit = '4';
    const colored = colorizedCanvas(heat, cmap);
    canvas.redraw = (opacity) => {
      const ctx = canvas.getContext('2d', {willReadFrequently: true});
      ctx.globalAlpha = 1;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      if (probeImg) ctx.drawImage(probeImg, 0, 0, canvas.width, canvas.height);
      ctx.globalAlpha = probeImg ? opacity : 1;
      ctx.drawImage(colored, 0, 0);
      ctx.globalAlpha = 1;
      canvas.dataset.opacity = String(opacity);
    };
    canvas.redraw(s.opacity);
    const cls = className(info, entry, t.class);
    const label = t.target === 'predicted' ? 'Predicted class' : t.target === 'true' ? 'True class' : `Target “${t.target}”`;
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `Grad-CAM for the ${t.target} class ${cls} over probe #${s.probe + 1}`);
    const lines = [
      {text: cls, cls: 'cam-class'},
      {text: t.score === null || t.score === undefined ? 'score non-finite (NaN or inf)'
        : `score ${Number(t.score).toFixed(3)} (the model's probability for ${cls})`, cls: 'cam-score'},
    ];
    return views.camFigure(canvas, label, lines);
  });
  const predicted = className(info, entry, rec.predicted);
  const truth = rec.true === null || rec.true === undefined ? null : className(info, entry, rec.true);
  const correct = truth !== null && rec.true === rec.predicted;
  const predictedP = rec.probabilities ? rec.probabilities[rec.predicted] : null;
  const prob = predictedP !== undefined && predictedP !== null ? Number(predictedP).toFixed(3) : null;
  const summary = views.h('p', {class: `cam-summary ${truth === null ? '' : correct ? 'ok' : 'wrong'}`},
    views.h('span', {class: 'cam-badge', text: truth === null ? 'no label' : correct ? 'correct' : 'wrong'}),
    views.h('span', {text: `predicted ${predicted}${prob ? ` (${prob})` : ''}`}),
    truth === null ? null : views.h('span', {text: ` · true ${truth}`}));
  const row = views.h('div', {class: 'cam-row'}, ...figures);
  const notes = [];
  if (targets.length < 2) notes.push(views.h('p', {class: 'muted small', text: 'The true class is unknown for this probe image (no labels given to the callback).'}));
  if (!probeImg) {
    const why = probeDamaged ? 'Probe image damaged in the event file' : 'Probe image not found';
    notes.push(views.h('p', {class: 'muted small', text: `${why}: showing the heatmap alone.`}));
  }
  const nonfinite = nonfiniteNote(step.record);
  if (nonfinite) notes.unshift(nonfinite);
  show([summary, row, ...notes], `${entry.layer} · epoch ${epoch} · probe #${s.probe + 1}`);
  for (const c of row.querySelectorAll('canvas')) applyZoom(c);
  if (!stale()) markFirstGrid();
}

function redrawOpacity() {
  const o = app.store.get().opacity;
  for (const c of app.ui.panels.querySelectorAll('canvas.cam-canvas')) if (c.redraw) c.redraw(o);
}

// ---------------------------------------------------------------------------------------------------
// Loading and live updates

function showEmptyPage() {
  const ui = app.ui;
  const none = !app.index.runs.length;
  ui.empty.hidden = !none;
  ui.main.hidden = none;
  ui.root.classList.toggle('is-empty', none);
  if (none) ui.empty.replaceChildren(views.emptyPage(false));
}

async function poll() {
  let data;
  try {
    data = await fetchIndex();
  } catch (e) {
    app.error = e;
    app.ui.status.textContent = `Cannot reach the plugin: ${e.message}`;
    app.ui.status.classList.add('error');
    return;
  }
  app.error = null;
  app.ui.status.classList.remove('error');
  app.lastPoll = new Date();
  app.ui.status.textContent = `Live · checked ${app.lastPoll.toLocaleTimeString()}`;
  const text = JSON.stringify(data);
  const changed = text !== app.indexText;
  if (changed) {
    app.index = data;
    app.indexText = text;
    normalise();
    showEmptyPage();
    renderRunList();
    syncControls();
    renderPanels();
  }
  await refreshScalars(selectedRuns());
}

function onStateChange(state, changed) {
  writeUrl(state);
  if (!app.index) return;
  if (changed.has('runs')) {
    renderRunList();
    refreshScalars(selectedRuns().filter((r) => !app.scalars.has(r)));
    renderCharts();
  }
  syncControls();
  for (const chart of app.charts.values()) chart.setCursor(currentEpoch());
  const panelKeys = ['runs', 'kind', 'layer', 'probe', 'epoch', 'follow', 'cmap', 'channel'];
  if (panelKeys.some((k) => changed.has(k))) renderPanels();
  else if (changed.has('zoom')) applyZoomAll();
  if (changed.has('opacity')) redrawOpacity();
}

function loadStylesheet() {
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('./style.css', import.meta.url).href;
  document.head.appendChild(link);
}

async function pollLoop() {
  if (!document.hidden) {
    try {
      await poll();
    } catch (e) {
      console.error('featureviz: update failed', e);
    }
  }
  setTimeout(pollLoop, POLL_MS);
}

/** Called by TensorBoard once the module is loaded. */
export async function render() {
  loadStylesheet();
  document.body.classList.add('featureviz-body');
  app.ui = views.shell();
  document.body.appendChild(app.ui.root);
  app.store = createStore({...defaultState(), ...readUrl()});
  app.store.subscribe(onStateChange);
  wireControls();
  wireExport();
  syncControls();
  app.ui.status.textContent = 'Loading…';
  await pollLoop();
}

// Exposed for tests and debugging (read-only use).
export const _internals = {app, tileAt, lut, colorize};
