// DOM builders shared by the page and its panels. Nothing here fetches or holds state: functions take
// plain values and return (or restyle) elements. The panels' own builders are in grid.js, gradcam.js and
// exportmenu.js.
// Every string that comes from the server (run names, layer names, class names, messages) is inserted
// with textContent or as an attribute value, never parsed as HTML.

import {kindsAt} from './kinds.js';

/**
 * Creates an element. `props`: attributes (strings), except `class`, `text` (textContent), `on<event>`
 * (listeners) and `dataset`. Children: nodes or strings (as text).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style') Object.assign(node.style, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

/** The three lines that add featureviz to a training script. */
export const SNIPPET = [
  'from tb_featureviz import FeatureVizCallback',
  'cb = FeatureVizCallback(log_dir)  # the same log_dir as keras.callbacks.TensorBoard',
  'model.fit(x, y, epochs=10, validation_data=(x_val, y_val), callbacks=[cb])',
].join('\n');

function labelled(text, control, extra = {}) {
  return h('label', {class: 'field', ...extra}, h('span', {class: 'field-label', text}), control);
}

/**
 * The page skeleton: toolbar (with `menu`, exportmenu.js `exportMenu()`), epoch bar, sidebar (runs,
 * curves) and the panel area.
 * @param {{element: HTMLElement}} menu  The Export control, kept as `refs.exportMenu`.
 * @returns {Object<string, *>}  References to every element the controllers fill or listen to.
 */
export function shell(menu) {
  const refs = {};
  refs.kindButtons = {};
  const kinds = h('div', {class: 'segmented', role: 'group', 'aria-label': 'What to show'});
  for (const {name: kind, label} of kindsAt('tab')) {
    const b = h('button', {type: 'button', class: 'seg', 'aria-pressed': 'false', dataset: {kind}, text: label});
    refs.kindButtons[kind] = b;
    kinds.appendChild(b);
  }
  refs.layerSelect = h('select', {id: 'layer-select'});
  refs.probeSelect = h('select', {id: 'probe-select'});
  refs.cmapSelect = h('select', {id: 'cmap-select'});
  refs.cmapSwatch = h('span', {class: 'cmap-swatch', 'aria-hidden': 'true'});
  refs.zoomSelect = h('select', {id: 'zoom-select'});
  refs.opacityInput = h('input', {id: 'opacity', type: 'range', min: '0', max: '100', step: '5'});
  refs.opacityValue = h('output', {for: 'opacity', class: 'small-value'});
  refs.status = h('span', {class: 'status', role: 'status', 'aria-live': 'polite'});

  refs.layerField = labelled('Layer', refs.layerSelect);
  refs.layerLabel = refs.layerField.querySelector('.field-label');
  refs.probeField = labelled('Probe image', refs.probeSelect);
  refs.cmapField = labelled('Colour map', h('span', {class: 'inline'}, refs.cmapSelect, refs.cmapSwatch));
  refs.zoomField = labelled('Zoom', refs.zoomSelect);
  refs.opacityField = labelled('Heatmap opacity', h('span', {class: 'inline'}, refs.opacityInput, refs.opacityValue));

  const toolbar = h('header', {class: 'toolbar'},
    h('div', {class: 'brand'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), h('span', {text: 'FeatureViz'})),
    kinds, refs.layerField, refs.probeField, refs.cmapField, refs.zoomField, refs.opacityField,
    h('span', {class: 'spacer'}));
  refs.exportMenu = menu;
  toolbar.appendChild(refs.exportMenu.element);

  refs.prevButton = h('button', {type: 'button', class: 'icon-btn', 'aria-label': 'Previous epoch', title: 'Previous epoch (←)', text: '◀'});
  refs.playButton = h('button', {type: 'button', class: 'play-btn', 'aria-label': 'Play epochs', title: 'Play the epochs as an animation', text: '▶ Play'});
  refs.nextButton = h('button', {type: 'button', class: 'icon-btn', 'aria-label': 'Next epoch', title: 'Next epoch (→)', text: '▶'});
  refs.slider = h('input', {type: 'range', id: 'epoch-slider', min: '0', max: '0', step: '1', value: '0', 'aria-label': 'Epoch'});
  refs.epochLabel = h('span', {id: 'epoch-label', class: 'epoch-label', 'aria-live': 'polite'});
  refs.epochRange = h('span', {class: 'epoch-range'});
  refs.followCheckbox = h('input', {type: 'checkbox', id: 'follow-latest'});
  const epochbar = h('div', {class: 'epochbar'},
    refs.prevButton, refs.playButton, refs.nextButton, refs.slider,
    h('span', {class: 'epoch-readout'}, refs.epochLabel, refs.epochRange),
    h('label', {class: 'follow', title: 'Show the newest epoch as soon as training writes it'},
      refs.followCheckbox, h('span', {text: 'Follow latest'})),
    refs.status);

  refs.runFilter = h('input', {type: 'search', class: 'run-filter', placeholder: 'Filter runs: text or /regex/',
    'aria-label': 'Filter runs', title: 'A part of the run name, or a regular expression between slashes: /lr_0\\.1/'});
  refs.runFilterError = h('p', {class: 'run-filter-error', role: 'alert', hidden: true});
  refs.groupSelect = h('select', {class: 'group-select', 'aria-label': 'Group runs by'});
  refs.groupField = h('label', {class: 'field-inline', title: 'Group the run list by a hyper-parameter the runs differ in'},
    h('span', {text: 'Group by'}), refs.groupSelect);
  refs.selectShown = h('button', {type: 'button', class: 'link-btn select-shown', text: 'Select listed',
    title: 'Select every run the list shows'});
  refs.clearRuns = h('button', {type: 'button', class: 'link-btn clear-runs', text: 'Clear', title: 'Deselect every run'});
  refs.compactCheckbox = h('input', {type: 'checkbox', class: 'compact-check'});
  refs.compactField = h('label', {class: 'compact-toggle', title: 'Smaller panels in a denser grid (on by itself for many runs)'},
    refs.compactCheckbox, h('span', {text: 'Compact'}));
  refs.runTools = h('div', {class: 'run-tools'}, refs.groupField, refs.selectShown, refs.clearRuns, refs.compactField);
  refs.runList = h('ul', {class: 'run-list', 'aria-label': 'Runs'});
  refs.runFilterNote = h('p', {class: 'run-filter-note', hidden: true});
  refs.runHint = h('p', {class: 'hint', text: 'Tick two or more runs to compare them side by side.'});
  refs.charts = h('div', {class: 'charts'});
  refs.legend = h('div', {class: 'legend'});
  const sidebar = h('aside', {class: 'sidebar'},
    h('section', {class: 'card runs-card'}, h('h2', {text: 'Runs'}), refs.runFilter, refs.runFilterError, refs.runTools,
      refs.runList, refs.runFilterNote, refs.runHint),
    h('section', {class: 'card curves'}, h('h2', {text: 'Curves'}), refs.legend, refs.charts));

  refs.panels = h('div', {class: 'panels', id: 'panels'});
  refs.main = h('main', {class: 'layout'}, sidebar, h('div', {class: 'stage'}, refs.panels));
  refs.empty = h('div', {class: 'empty-page', hidden: true});
  refs.root = h('div', {class: 'featureviz'}, toolbar, epochbar, refs.empty, refs.main);
  return refs;
}

/** Replaces the options of a <select> with [value, label] pairs, keeping `selected`. */
export function setOptions(select, options, selected) {
  const key = JSON.stringify(options);
  if (select.dataset.options !== key) {
    select.replaceChildren(...options.map(([value, label]) => h('option', {value, text: label})));
    select.dataset.options = key;
  }
  if (selected !== null && selected !== undefined) select.value = String(selected);
  select.disabled = options.length === 0;
}

/**
 * A short line in a run's colour and dash (facts.js `slotStyle`).
 * @param {{color: string, dash: string, dasharray: string}} style
 * @returns {SVGSVGElement}
 */
export function dashSample(style) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'dash-sample');
  svg.setAttribute('viewBox', '0 0 22 8');
  svg.setAttribute('aria-hidden', 'true');
  svg.dataset.dash = style.dash;
  const line = document.createElementNS(ns, 'line');
  for (const [k, v] of Object.entries({x1: 1, y1: 4, x2: 21, y2: 4, stroke: style.color})) line.setAttribute(k, String(v));
  if (style.dasharray) line.setAttribute('stroke-dasharray', style.dasharray);
  svg.appendChild(line);
  return svg;
}

/**
 * One entry of the run list: checkbox, colour swatch (and, for a selected run, its line style), name, a
 * short note. `style` is the run's line style (facts.js `slotStyle`), or null for a run not selected.
 */
export function runItem(run, color, checked, note, onToggle, style = null) {
  const box = h('input', {type: 'checkbox', class: 'run-check'});
  box.checked = checked;
  box.addEventListener('change', () => onToggle(run, box.checked));
  return h('li', {class: 'run-item', dataset: {run}},
    h('label', {title: run},
      box,
      h('span', {class: 'swatch', style: {background: color}, 'aria-hidden': 'true'}),
      style ? dashSample(style) : null,
      h('span', {class: 'run-name', text: run}),
      h('span', {class: 'run-note', text: note})));
}

/**
 * The header of a group of the run list: its label, the number of runs, a button that selects them all.
 * @param {string} label
 * @param {number} count
 * @param {() => void} onSelect
 * @returns {HTMLElement}
 */
export function runGroupHead(label, count, onSelect) {
  return h('li', {class: 'run-group-head', role: 'presentation', dataset: {group: label}},
    h('span', {class: 'run-group-label', text: label}), h('span', {class: 'run-group-count', text: `(${count})`}),
    h('button', {type: 'button', class: 'link-btn', text: 'select', title: `Select the runs with ${label}`, onclick: onSelect}));
}

/**
 * The chart legend: one entry per selected run (its line style and name) plus the split's line styles.
 * @param {Array<[string, {color: string, dash: string, dasharray: string}]>} runs
 */
export function legend(runs) {
  return [
    ...runs.map(([run, style]) => h('span', {class: 'legend-item', dataset: {run}},
      dashSample(style), h('span', {class: 'legend-run', text: run}))),
    h('span', {class: 'legend-item muted'}, h('span', {class: 'line-sample solid', 'aria-hidden': 'true'}), 'train'),
    h('span', {class: 'legend-item muted'}, h('span', {class: 'line-sample dashed', 'aria-hidden': 'true'}),
      runs.some(([, style]) => style.dasharray) ? 'validation (faded for a dash-dot or dotted run)' : 'validation'),
  ];
}

/**
 * The note under a chart of Grad-CAM measures (checks.js): a one-line caption, then one entry per measure
 * (its line style and name) whose tooltip says how to read it.
 * @param {string} caption
 * @param {Array<{label: string, style: string, note: string, tag: string}>} measures
 * @returns {HTMLElement}
 */
export function checkKey(caption, measures) {
  return h('div', {class: 'chart-note'},
    h('p', {class: 'chart-caption', text: caption}),
    h('ul', {class: 'check-key'}, ...measures.map((m) => h('li', {class: 'check-item', title: m.note, dataset: {tag: m.tag}},
      h('span', {class: `line-sample ${m.style}`, 'aria-hidden': 'true'}), h('span', {text: m.label})))));
}

/**
 * A run's panel (`style`: its line style, facts.js `slotStyle`, shown beside the swatch for a dashed run): a
 * coloured border and label, a sub-title line, the run's facts, the budget line of the
 * epoch on show (hidden until its plan record is here), a body and a drill-down area.
 */
export function panel(run, color, style = null) {
  const title = h('span', {class: 'panel-run', text: run});
  const subtitle = h('span', {class: 'panel-sub'});
  const layerPick = h('select', {class: 'panel-layer', 'aria-label': `Layer of run ${run}`, hidden: true});
  const layerNote = h('span', {class: 'panel-stage'});
  const facts = h('p', {class: 'panel-facts'});
  const budget = h('details', {class: 'panel-budget', hidden: true});
  const alert = h('p', {class: 'panel-alert', role: 'alert', hidden: true});
  const body = h('div', {class: 'panel-body'});
  const detail = h('div', {class: 'panel-detail'});
  const element = h('section', {class: 'panel', dataset: {run}, style: {borderColor: color}, 'aria-label': `Run ${run}`},
    h('header', {class: 'panel-head', style: {'--run-color': color}},
      h('span', {class: 'swatch', style: {background: color}, 'aria-hidden': 'true'}),
      style && style.dasharray ? dashSample(style) : null, title, layerPick, layerNote,
      subtitle),
    facts, budget, alert, body, detail);
  return {element, title, subtitle, facts, budget, alert, body, detail, layerPick, layerNote};
}

/**
 * Gives a panel (`panel`'s element) another line style: border, header swatch and dash sample.
 * @param {HTMLElement} element
 * @param {{color: string, dash: string, dasharray: string}} style
 */
export function restylePanel(element, style) {
  element.style.borderColor = style.color;
  const head = element.querySelector('.panel-head');
  if (!head) return;
  head.style.setProperty('--run-color', style.color);
  const swatch = head.querySelector('.swatch');
  if (swatch) swatch.style.background = style.color;
  const old = head.querySelector('.dash-sample');
  if (old) old.remove();
  if (style.dasharray && swatch) swatch.after(dashSample(style));
}

/**
 * Fills a panel's budget line: the compact line as the summary (records.js `planLine`), the full account
 * (`planDetails`) when opened; hidden for no line.
 * @param {HTMLDetailsElement} box
 * @param {number|null} epoch
 * @param {string|null} line
 * @param {string[]} [details]
 */
export function budgetLine(box, epoch, line, details = []) {
  box.hidden = !line;
  box.dataset.epoch = epoch === null ? '' : String(epoch);
  if (!line) {
    box.replaceChildren();
    return;
  }
  const summary = h('summary', {title: 'What the callback drew and skipped at this epoch, within its time budget (click for the full list)'},
    h('span', {class: 'budget-epoch', text: `epoch ${epoch} · `}), h('span', {class: 'budget-text', text: line}));
  box.replaceChildren(summary, h('ul', {class: 'budget-details'}, ...details.map((d) => h('li', {text: d}))));
}

/** The code block with the callback snippet. */
export function snippetBlock() {
  return h('pre', {class: 'snippet'}, h('code', {text: SNIPPET}));
}

/** A message inside a panel: a title, a paragraph, optionally the snippet. */
export function message(title, text, {snippet = false, tone = 'info'} = {}) {
  return h('div', {class: `message ${tone}`, role: tone === 'error' ? 'alert' : null},
    h('p', {class: 'message-title', text: title}),
    text ? h('p', {class: 'message-text', text}) : null,
    snippet ? snippetBlock() : null);
}

/**
 * Why training stopped, from the run's `status` record (written by `featureviz demo` when training fails):
 * the cause, and the last lines the training process printed.
 * @param {{message: string, exit_code: number, log_tail: string}} status
 */
export function failure(status) {
  const box = message('Training stopped with an error', String(status.message || ''), {tone: 'error'});
  if (status.log_tail) {
    box.append(h('details', {class: 'failure-log'},
      h('summary', {text: `What the training process printed last (exit code ${status.exit_code})`}),
      h('pre', {class: 'snippet', text: String(status.log_tail)})));
  }
  return box;
}

/** The whole-page empty state: no featureviz data in the log directory. */
export function emptyPage(hasRuns) {
  return h('div', {class: 'empty-card'},
    h('h1', {text: hasRuns ? 'No runs selected' : 'No FeatureViz data in this log directory yet'}),
    h('p', {text: 'Add the FeatureViz callback to your Keras training: it writes activation grids, ' +
      'filter patterns and Grad-CAM heatmaps at every epoch into <log_dir>/featureviz.'}),
    snippetBlock(),
    h('p', {class: 'muted', text: 'Then start TensorBoard with --logdir set to the folder that holds your runs. ' +
      'This page looks for new data every 2 seconds: no reload needed.'}));
}

/**
 * What stands in for an image the server reports damaged (its bytes in the event file do not decode):
 * a hatched tile with a "damaged" badge, never a broken image. `small` for a filmstrip frame.
 */
export function damagedTile(what, detail, {small = false} = {}) {
  const label = `${what} is damaged in the event file`;
  if (small) {
    return h('span', {class: 'damaged-tile small', role: 'img', 'aria-label': label, title: `${label}. ${detail || ''}`.trim(), text: '✕'});
  }
  return h('div', {class: 'damaged-tile', role: 'img', 'aria-label': label, title: detail || ''},
    h('span', {class: 'damaged-badge', text: 'damaged'}),
    h('p', {class: 'damaged-text', text: `${label} and cannot be shown. The other epochs are not affected.`}));
}


/**
 * The warning under a record with non-finite values, or null without one.
 * @param {string|null} text  records.js `nonfiniteText`.
 * @returns {HTMLElement|null}
 */
export function nonfiniteNote(text) {
  return text ? h('p', {class: 'nonfinite-note', role: 'note', text}) : null;
}

/**
 * What stands in for the curves when there are none.
 * @param {boolean} loading  Whether some selected run's curves are still on their way.
 * @returns {HTMLElement}
 */
export function noCurves(loading) {
  return h('p', {class: 'muted', text: loading ? 'Loading curves…' : 'No loss or metric curves in the selected runs.'});
}

/** The panel area's placeholder when no run is selected. */
export function noRunPanel() {
  return h('div', {class: 'panel placeholder'},
    message('No run selected', 'Tick a run in the list on the left to see what its network learned.'));
}

/** The most a fitted grid may be high in compact panels (px). */
export const COMPACT_GRID_H = 120;

/**
 * The width a `canvas.zoomable` may take: its box's inner width (reads the layout).
 * @param {HTMLCanvasElement} canvas
 * @returns {number}
 */
export function zoomRoom(canvas) {
  const box = canvas.closest('.grid-scroll') || canvas.parentElement;
  const style = box ? getComputedStyle(box) : null;
  const padding = style ? (parseFloat(style.paddingLeft) || 0) + (parseFloat(style.paddingRight) || 0) : 0;
  return Math.max(64, (box ? box.clientWidth - padding : 400) - 2);
}

/**
 * Sizes a `canvas.zoomable` for `zoom`: an integer factor, or "fit" (the largest integer factor that fits
 * its box, at most `data-max-fit`, and in compact panels at most `COMPACT_GRID_H` high; shrunk, keeping its
 * aspect ratio, when even 1× does not fit). Sets `data-zoom` to the factor.
 * @param {HTMLCanvasElement} canvas
 * @param {string} zoom  state.js `ZOOMS`.
 * @param {number} [available]  `zoomRoom(canvas)`, when the caller measured it before changing the DOM (a
 *     measure after each change forces a layout per canvas).
 */
export function applyZoom(canvas, zoom, available = zoomRoom(canvas)) {
  const maxFit = Number(canvas.dataset.maxFit || 0);
  // Compact panels (many runs): a fitted grid is at most COMPACT_GRID_H pixels high too.
  const maxHeight = canvas.closest('.featureviz.compact') ? COMPACT_GRID_H : Infinity;
  let k = zoom !== 'fit' ? Number(zoom) : Math.max(1, Math.floor(available / canvas.width));
  if (zoom === 'fit' && maxFit) k = Math.min(k, maxFit);
  if (zoom === 'fit') k = Math.max(1, Math.min(k, Math.floor(maxHeight / canvas.height)));
  const fitsNatively = canvas.width <= available && canvas.height <= maxHeight;
  if (zoom === 'fit' && !fitsNatively) {
    // Shrunk, keeping the aspect ratio (the element's box is the picture: clicks map onto tiles).
    canvas.style.width = maxHeight < Infinity ? `${Math.min(available, (maxHeight * canvas.width) / canvas.height)}px` : '100%';
    canvas.style.height = 'auto';
  } else {
    canvas.style.width = `${canvas.width * k}px`;
    canvas.style.height = `${canvas.height * k}px`;
  }
  canvas.dataset.zoom = String(k);
}

/**
 * Saves a downloaded blob under `filename` through a hidden <a download> (same origin).
 * @param {Blob} blob
 * @param {string} filename
 */
export function saveBlob(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = h('a', {href, download: filename, hidden: true});
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
