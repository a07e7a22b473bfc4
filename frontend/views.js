// DOM builders. Nothing here fetches or holds state: functions take plain values and return elements.
// Every string that comes from the server (run names, layer names, class names, messages) is inserted
// with textContent or as an attribute value, never parsed as HTML.

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

export const KIND_LABELS = {activations: 'Activations', filters: 'Filter patterns', gradcam: 'Grad-CAM'};

/** The three lines that add featureviz to a training script. */
export const SNIPPET = [
  'from tb_featureviz import FeatureVizCallback',
  'cb = FeatureVizCallback(log_dir)  # the same log_dir as keras.callbacks.TensorBoard',
  'model.fit(x, y, epochs=10, validation_data=(x_val, y_val), callbacks=[cb])',
].join('\n');

function labelled(text, control, extra = {}) {
  return h('label', {class: 'field', ...extra}, h('span', {class: 'field-label', text}), control);
}

/** The page skeleton: toolbar, epoch bar, sidebar (runs, curves) and the panel area. */
export function shell() {
  const refs = {};
  refs.kindButtons = {};
  const kinds = h('div', {class: 'segmented', role: 'group', 'aria-label': 'What to show'});
  for (const [kind, label] of Object.entries(KIND_LABELS)) {
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
  refs.probeField = labelled('Probe image', refs.probeSelect);
  refs.cmapField = labelled('Colour map', h('span', {class: 'inline'}, refs.cmapSelect, refs.cmapSwatch));
  refs.zoomField = labelled('Zoom', refs.zoomSelect);
  refs.opacityField = labelled('Heatmap opacity', h('span', {class: 'inline'}, refs.opacityInput, refs.opacityValue));

  const toolbar = h('header', {class: 'toolbar'},
    h('div', {class: 'brand'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), h('span', {text: 'FeatureViz'})),
    kinds, refs.layerField, refs.probeField, refs.cmapField, refs.zoomField, refs.opacityField,
    h('span', {class: 'spacer'}));
  refs.exportMenu = exportMenu();
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

  refs.runFilter = h('input', {type: 'search', class: 'run-filter', placeholder: 'Filter runs', 'aria-label': 'Filter runs'});
  refs.runList = h('ul', {class: 'run-list', 'aria-label': 'Runs'});
  refs.runHint = h('p', {class: 'hint', text: 'Tick two or more runs to compare them side by side.'});
  refs.charts = h('div', {class: 'charts'});
  refs.legend = h('div', {class: 'legend'});
  const sidebar = h('aside', {class: 'sidebar'},
    h('section', {class: 'card'}, h('h2', {text: 'Runs'}), refs.runFilter, refs.runList, refs.runHint),
    h('section', {class: 'card curves'}, h('h2', {text: 'Curves'}), refs.legend, refs.charts));

  refs.panels = h('div', {class: 'panels', id: 'panels'});
  refs.main = h('main', {class: 'layout'}, sidebar, h('div', {class: 'stage'}, refs.panels));
  refs.empty = h('div', {class: 'empty-page', hidden: true});
  refs.root = h('div', {class: 'featureviz'}, toolbar, epochbar, refs.empty, refs.main);
  return refs;
}

export const EXPORT_FORMATS = [
  ['html', 'Report (HTML)'],
  ['png', 'Figure (PNG)'],
  ['gif', 'Animation across epochs (GIF)'],
  ['zip', 'Raw PNGs + manifest (ZIP)'],
];

/**
 * The toolbar's Export control: a button that opens a small non-modal dialog with the epoch choice
 * ("This epoch" / "All epochs"), one button per format and an inline notice (busy state, errors).
 * Only builds the DOM; index.js opens, closes and fills it.
 */
export function exportMenu() {
  const button = h('button', {type: 'button', class: 'export-btn', id: 'export-button', 'aria-haspopup': 'dialog',
    'aria-expanded': 'false', 'aria-controls': 'export-menu', title: 'Download the current view'},
  h('span', {class: 'export-label', text: 'Export'}), h('span', {class: 'caret', 'aria-hidden': 'true', text: '▾'}));
  const summary = h('p', {class: 'export-summary'});
  const epochCurrent = h('input', {type: 'radio', name: 'export-epochs', value: 'current', id: 'export-epochs-current'});
  const epochAll = h('input', {type: 'radio', name: 'export-epochs', value: 'all', id: 'export-epochs-all'});
  epochCurrent.checked = true;
  const currentText = h('span', {text: 'This epoch'});
  const allText = h('span', {text: 'All epochs'});
  const epochs = h('fieldset', {class: 'export-epochs'},
    h('legend', {class: 'field-label', text: 'Epochs'}),
    h('span', {class: 'segmented radio-seg'},
      h('label', {class: 'seg'}, epochCurrent, currentText),
      h('label', {class: 'seg'}, epochAll, allText)));
  const items = {};
  const list = h('div', {class: 'export-items', role: 'group', 'aria-label': 'Format'});
  for (const [format, label] of EXPORT_FORMATS) {
    const detail = h('span', {class: 'export-detail'});
    const b = h('button', {type: 'button', class: 'export-item', dataset: {format}},
      h('span', {class: 'export-name', text: label}), detail);
    items[format] = {button: b, detail};
    list.appendChild(b);
  }
  const notice = h('p', {class: 'export-notice', role: 'status', 'aria-live': 'polite', hidden: true});
  const popover = h('div', {class: 'export-menu', id: 'export-menu', role: 'dialog', 'aria-label': 'Export the current view',
    hidden: true},
  h('p', {class: 'export-title', text: 'Export the current view'}), summary, epochs, list, notice);
  const element = h('div', {class: 'export'}, button, popover);
  return {element, button, popover, summary, epochCurrent, epochAll, currentText, allText, items, notice};
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

/** One entry of the run list: checkbox, colour swatch, name, a short note. */
export function runItem(run, color, checked, note, onToggle) {
  const box = h('input', {type: 'checkbox', class: 'run-check'});
  box.checked = checked;
  box.addEventListener('change', () => onToggle(run, box.checked));
  return h('li', {class: 'run-item', dataset: {run}},
    h('label', {title: run},
      box,
      h('span', {class: 'swatch', style: {background: color}, 'aria-hidden': 'true'}),
      h('span', {class: 'run-name', text: run}),
      h('span', {class: 'run-note', text: note})));
}

/** The chart legend: one entry per selected run plus the line styles. */
export function legend(runs) {
  return [
    ...runs.map(([run, color]) => h('span', {class: 'legend-item'},
      h('span', {class: 'swatch', style: {background: color}, 'aria-hidden': 'true'}), h('span', {class: 'legend-run', text: run}))),
    h('span', {class: 'legend-item muted'}, h('span', {class: 'line-sample solid', 'aria-hidden': 'true'}), 'train'),
    h('span', {class: 'legend-item muted'}, h('span', {class: 'line-sample dashed', 'aria-hidden': 'true'}), 'validation'),
  ];
}

/** A run's panel: a coloured border and label, a sub-title line, a body and a drill-down area. */
export function panel(run, color) {
  const title = h('span', {class: 'panel-run', text: run});
  const subtitle = h('span', {class: 'panel-sub'});
  const body = h('div', {class: 'panel-body'});
  const detail = h('div', {class: 'panel-detail'});
  const element = h('section', {class: 'panel', dataset: {run}, style: {borderColor: color}, 'aria-label': `Run ${run}`},
    h('header', {class: 'panel-head', style: {'--run-color': color}},
      h('span', {class: 'swatch', style: {background: color}, 'aria-hidden': 'true'}), title, subtitle),
    body, detail);
  return {element, title, subtitle, body, detail};
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

/** A grid (canvas) in a positioned box, with a tile highlight box. */
export function gridFigure(canvas, caption) {
  const highlight = h('div', {class: 'tile-highlight', hidden: true});
  const focus = h('div', {class: 'tile-focus', hidden: true});
  const frame = h('div', {class: 'grid-frame'}, canvas, highlight, focus);
  const element = h('figure', {class: 'grid-figure'}, h('div', {class: 'grid-scroll'}, frame),
    caption ? h('figcaption', {text: caption}) : null);
  return {element, frame, highlight, focus};
}

/** The drill-down box: a heading, a close button, the enlarged tile, a label and a filmstrip. */
export function drilldown(title, onClose) {
  const big = h('div', {class: 'drill-big'});
  const strip = h('ol', {class: 'filmstrip', 'aria-label': 'One frame per epoch'});
  const info = h('p', {class: 'drill-info'});
  const label = h('p', {class: 'drill-label', text: 'Across epochs (click a frame to go there)'});
  const close = h('button', {type: 'button', class: 'icon-btn close', 'aria-label': 'Close the enlarged view', title: 'Close (Esc)', text: '✕'});
  close.addEventListener('click', onClose);
  const element = h('div', {class: 'drilldown'},
    h('div', {class: 'drill-head'}, h('h3', {text: title}), close),
    h('div', {class: 'drill-main'}, big, info),
    label, strip);
  return {element, big, strip, info, label};
}

/** One filmstrip frame: a button holding a canvas and the epoch number. */
export function filmFrame(epoch, current, onPick) {
  const slot = h('div', {class: 'frame-img'});
  const button = h('button', {type: 'button', class: 'frame', 'aria-label': `Epoch ${epoch}`, title: `Epoch ${epoch}`,
    'aria-current': current ? 'true' : null, dataset: {epoch: String(epoch)}},
  slot, h('span', {class: 'frame-label', text: String(epoch)}));
  button.addEventListener('click', () => onPick(epoch));
  return {element: h('li', {}, button), slot};
}

/** A Grad-CAM figure: the composited canvas and its caption lines. */
export function camFigure(canvas, heading, lines) {
  return h('figure', {class: 'cam-figure'},
    h('div', {class: 'cam-heading', text: heading}),
    h('div', {class: 'grid-scroll'}, h('div', {class: 'grid-frame'}, canvas)),
    h('figcaption', {}, ...lines.map((l) => h('div', {class: l.cls || '', text: l.text}))));
}
