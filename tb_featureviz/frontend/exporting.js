// Export controller: what the Export menu sends for the view on show (GET export,
// tb_featureviz/plugin/http_api.md), the download, and the progress it shows while the server works.
// The menu's DOM is exportmenu.js; the requests are model.js.

import * as menu from './exportmenu.js';
import {alignMode, panelLayer, runInfo, shownEpoch, shownEpochs, shownRuns} from './facts.js';
import {KIND_LABELS, kindView} from './kinds.js';
import {exportUrl, fetchExport, fetchExportProgress, newJobId} from './model.js';
import {probeLabel} from './records.js';
import {saveBlob} from './views.js';

/**
 * @typedef {import('./types.js').App} App
 * @typedef {import('./types.js').ExportView} ExportView
 */

const EXPORT_POLL_MS = 250;   // how often a running export's progress is asked for
const PHASE_TEXT = {read: 'Reading', render: 'Rendering'};

/**
 * The open channel (activations) or filter (filters) of the view, when a panel shows its tile drilled
 * down at this epoch (not for a kind without a drill-down, as Grad-CAM).
 * @param {App} app
 * @returns {number|null}
 */
function openChannel(app) {
  const s = app.store.get();
  if (s.channel === null || !kindView(s.kind).tileNoun) return null;
  return shownRuns(app).some((r) => (app.panels.get(r) || {}).channelShown === s.channel) ? s.channel : null;
}

/**
 * The integer zoom the view is drawn at (the first panel's canvas), for PNG/GIF `scale`.
 * @param {App} app
 * @param {number|null} channel  The open channel: its enlarged tile is measured instead of the grid.
 * @returns {number|null}  2..8, or null for 1× or less.
 */
function screenScale(app, channel) {
  const selector = channel !== null ? '.drill-canvas' : 'canvas.zoomable';
  const c = app.ui.panels.querySelector(selector);
  if (!c) return null;
  const k = channel !== null ? Math.round(c.getBoundingClientRect().width / Math.max(1, c.width)) : Number(c.dataset.zoom);
  return Number.isFinite(k) && k > 1 ? Math.min(8, k) : null;
}

/**
 * What Export sends for the view on show and a format, or null when nothing can be exported.
 * @param {App} app
 * The summary report ("pdf") covers the shown runs whole: every kind and layer, every epoch (its
 * filmstrips pick six), the probe and colour map on show; the other formats export the view itself.
 * @param {string} format  "pdf", "html", "png", "gif" or "zip".
 * @returns {ExportView|null}
 */
function exportView(app, format) {
  const s = app.store.get();
  const runs = shownRuns(app).filter((r) => (runInfo(app.index, r) || {}).featureviz);
  const epoch = shownEpoch(app);
  if (!runs.length || epoch === null) return null;
  if (format === 'pdf') {
    return {
      runs, kind: null, layer: null, layers: {}, epochs: 'all', probe: s.probe,
      colormap: s.cmap, channel: null, scale: null,
    };
  }
  // Each run's layer as its panel shows it: the shared layer, and the runs whose own layer differs.
  const shown = alignMode(app.index, s.kind, shownRuns(app)) === 'layer' ? s.layer : null;
  const layers = {};
  for (const run of runs) {
    const layer = panelLayer(app.index, s, run, shownRuns(app));
    if (layer && layer !== shown) layers[run] = layer;
  }
  const withLayer = runs.filter((r) => layers[r] || shown);
  if (!withLayer.length) return null;
  const allEpochs = format === 'gif' || app.ui.exportMenu.epochAll.checked;
  const channel = format === 'png' || format === 'gif' ? openChannel(app) : null;
  return {
    runs: withLayer,
    kind: s.kind,
    layer: shown,
    layers,
    epochs: allEpochs ? 'all' : epoch,
    probe: kindView(s.kind).fields.probe ? s.probe : null,
    colormap: kindView(s.kind).colormap(s),
    channel,
    scale: format === 'png' || format === 'gif' ? screenScale(app, channel) : null,
  };
}

/**
 * Brings the Export button and menu up to date with the view on show (closing the menu when there is
 * nothing to export and no export running).
 * @param {App} app
 */
export function syncExport(app) {
  const m = app.ui.exportMenu;
  const s = app.store.get();
  const view = app.index ? exportView(app, 'html') : null;
  const busy = app.exporting !== null;
  menu.setButton(m, Boolean(view), busy);
  if (!view) {
    if (!busy) menu.closeMenu(m, false);
    return;
  }
  const named = view.layer ? [view.layer] : [];
  const own = Object.entries(view.layers).map(([run, layer]) => `${run}: ${layer}`);
  const bits = [view.runs.join(', '), KIND_LABELS[s.kind], ...named, ...own];
  if (view.probe !== null) bits.push(probeLabel(view.probe));
  if (view.colormap) bits.push(view.colormap);
  menu.describe(m, {
    epoch: shownEpoch(app),
    epochs: shownEpochs(app),
    summary: bits.join(' · '),
    channel: openChannel(app),
    noun: kindView(s.kind).tileNoun || 'Channel',
  }, app.exporting);
}

/** @param {App} app */
function openExportMenu(app) {
  menu.openMenu(app.ui.exportMenu, () => syncExport(app));
}

/**
 * Polls the server's progress of export `job` and draws it while `isRunning()`; returns a stop function.
 * A poll that fails (the job has not reached the server yet) is skipped.
 * @param {App} app
 * @param {string} job
 * @param {string} label  What is being exported, e.g. "Exporting report (HTML)".
 * @param {() => boolean} isRunning
 * @returns {() => void}
 */
function followExportProgress(app, job, label, isRunning) {
  let timer = null;
  let stopped = false;
  const poll = async () => {
    try {
      const p = await fetchExportProgress(job);
      if (!stopped && isRunning() && p.state !== 'failed' && p.total > 0) {
        menu.setNotice(app.ui.exportMenu, `${label}: ${PHASE_TEXT[p.phase] || p.phase} ${p.done}/${p.total}`, 'busy', p);
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

/**
 * Exports the view on show as `format` and saves the file; one export at a time.
 * @param {App} app
 * @param {string} format
 */
async function runExport(app, format) {
  if (app.exporting !== null) return;
  const view = exportView(app, format);
  if (!view) return;
  const m = app.ui.exportMenu;
  const label = menu.EXPORT_FORMATS.find(([f]) => f === format)[1];
  app.exporting = format;
  const name = label.replace(/ \(.*\)$/, '');
  const what = `Exporting ${name[0].toLowerCase()}${name.slice(1)} (${format.toUpperCase()})`;
  menu.setNotice(m, `${what}…`, 'busy');
  syncExport(app);
  const job = newJobId();
  const stopProgress = followExportProgress(app, job, what, () => app.exporting === format);
  try {
    const {blob, filename, damaged} = await fetchExport(exportUrl(view, format, job), `featureviz-export.${format}`);
    saveBlob(blob, filename);
    app.exporting = null;
    syncExport(app);
    if (damaged) {  // the file holds everything else; keep the menu open so the note is read
      menu.setNotice(m, `Exported without ${damaged} damaged image${damaged > 1 ? 's' : ''} (their bytes in the event files do not decode).`, 'error');
    } else {
      menu.setNotice(m, '', '');
      menu.closeMenu(m, m.popover.contains(document.activeElement));
    }
  } catch (e) {
    app.exporting = null;
    menu.setNotice(m, `Export failed: ${e && e.message ? e.message : e}`, 'error');
    syncExport(app);
    if (m.popover.hidden) openExportMenu(app);
  } finally {
    stopProgress();
  }
}

/**
 * Wires the Export control to this controller.
 * @param {App} app
 */
export function wireExport(app) {
  const m = app.ui.exportMenu;
  menu.wireMenu(m, {
    open: () => openExportMenu(app),
    format: (format) => runExport(app, format),
    epochs: () => {
      menu.setNotice(m, '', '');
      syncExport(app);
    },
  });
}
