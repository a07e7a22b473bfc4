// The toolbar's Export control: a button that opens a small non-modal dialog with the epoch choice
// ("This epoch" / "All epochs"), one button per format and an inline notice (busy state, progress,
// errors). Only DOM: building, filling, opening and closing it, and its keyboard behaviour. What to
// export and the download itself are exporting.js's job.

import {h} from './views.js';

/**
 * The formats, in menu order: `[format, label]`.
 * @type {Array<[string, string]>}
 */
export const EXPORT_FORMATS = [
  ['pdf', 'Summary report of the runs (PDF)'],
  ['html', 'Report (HTML)'],
  ['png', 'Figure (PNG)'],
  ['gif', 'Animation across epochs (GIF)'],
  ['zip', 'Raw PNGs + manifest (ZIP)'],
];

/**
 * The elements of the Export control.
 * @typedef {Object} ExportMenu
 * @property {HTMLElement} element  The whole control.
 * @property {HTMLButtonElement} button  The toolbar button.
 * @property {HTMLElement} popover  The dialog.
 * @property {HTMLElement} summary  What the view is ("exp1 · Activations · conv2d · probe #1").
 * @property {HTMLInputElement} epochCurrent
 * @property {HTMLInputElement} epochAll
 * @property {HTMLElement} currentText
 * @property {HTMLElement} allText
 * @property {Object<string, {button: HTMLButtonElement, detail: HTMLElement}>} items  Format -> its entry.
 * @property {HTMLElement} notice
 */

/**
 * Builds the Export control, closed, with "This epoch" checked.
 * @returns {ExportMenu}
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
  /** @type {ExportMenu['items']} */
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

/**
 * Sets the toolbar button: enabled when there is a view to export or an export is running.
 * @param {ExportMenu} m
 * @param {boolean} hasView
 * @param {boolean} busy  An export is running.
 */
export function setButton(m, hasView, busy) {
  m.button.disabled = !hasView && !busy;
  m.button.title = hasView ? 'Download the current view' : 'Select a run with FeatureViz data to export it';
  m.button.setAttribute('aria-busy', String(busy));
  m.button.classList.toggle('busy', busy);
  m.button.firstChild.textContent = busy ? 'Exporting…' : 'Export';
}

/**
 * Fills the dialog's texts.
 * @param {ExportMenu} m
 * @param {Object} facts
 * @param {number} facts.epoch  The epoch on show.
 * @param {number[]} facts.epochs  Every epoch of the view.
 * @param {string} facts.summary  What the view is.
 * @param {number|null} facts.channel  The channel or filter drilled down, or null.
 * @param {string} facts.noun  "Channel" or "Filter".
 * @param {string|null} exporting  The format being exported, or null.
 */
export function describe(m, {epoch, epochs, summary, channel, noun}, exporting) {
  m.currentText.textContent = `This epoch (${epoch})`;
  m.allText.textContent = epochs.length > 1 ? `All epochs (${epochs[0]}–${epochs[epochs.length - 1]})` : 'All epochs';
  m.summary.textContent = summary;
  const where = m.epochAll.checked ? 'every epoch' : `epoch ${epoch}`;
  m.items.pdf.detail.textContent = 'Curves, checks, final epoch and filmstrips of every kind and epoch';
  m.items.html.detail.textContent = `Grids and curves in one page, ${where}`;
  m.items.png.detail.textContent = channel !== null ? `${noun} ${channel} at ${where}` : `The picture on screen at ${where}`;
  m.items.gif.detail.textContent = channel !== null ? `${noun} ${channel}, one frame per epoch` : 'One frame per epoch';
  m.items.zip.detail.textContent = `The stored images byte for byte, ${where}`;
  for (const [format, item] of Object.entries(m.items)) {
    item.button.disabled = exporting !== null;
    item.button.setAttribute('aria-busy', String(exporting === format));
  }
}

/**
 * Opens the dialog (unless the button is disabled), calls `fill()` and focuses the checked epoch choice.
 * @param {ExportMenu} m
 * @param {() => void} fill
 */
export function openMenu(m, fill) {
  if (m.button.disabled) return;
  m.popover.hidden = false;
  m.button.setAttribute('aria-expanded', 'true');
  fill();
  const first = m.epochCurrent.checked ? m.epochCurrent : m.epochAll;
  first.focus();
}

/**
 * Closes the dialog; focuses the button when `focusButton`.
 * @param {ExportMenu} m
 * @param {boolean} [focusButton]
 */
export function closeMenu(m, focusButton = true) {
  if (m.popover.hidden) return;
  m.popover.hidden = true;
  m.button.setAttribute('aria-expanded', 'false');
  if (focusButton) m.button.focus();
}

/**
 * Shows `text` under the export buttons (hidden when empty); `progress` adds a progress bar.
 * @param {ExportMenu} m
 * @param {string} text
 * @param {string} tone  '', 'busy' or 'error'.
 * @param {{done: number, total: number}|null} [progress]
 */
export function setNotice(m, text, tone, progress = null) {
  const n = m.notice;
  n.hidden = !text;
  n.className = `export-notice ${tone || ''}`;
  n.setAttribute('role', tone === 'error' ? 'alert' : 'status');
  if (!progress) {
    n.textContent = text || '';
    return;
  }
  const bar = h('progress', {class: 'export-progress', max: Math.max(1, progress.total), value: progress.done});
  n.replaceChildren(h('span', {class: 'export-progress-box'}, h('span', {text}), bar));
}

/**
 * Wires the control: the button toggles the dialog, ArrowDown on it opens it, ArrowUp/ArrowDown move
 * between the formats, Escape, a click elsewhere or focus leaving close it. Keys used inside the dialog
 * do not reach the page (they would step epochs).
 * @param {ExportMenu} m
 * @param {Object} on
 * @param {() => void} on.open  Opens the dialog (openMenu with the controller's fill).
 * @param {(format: string) => void} on.format  A format's button was clicked.
 * @param {() => void} on.epochs  The epoch choice changed.
 */
export function wireMenu(m, on) {
  m.button.addEventListener('click', () => (m.popover.hidden ? on.open() : closeMenu(m)));
  for (const [format, item] of Object.entries(m.items)) item.button.addEventListener('click', () => on.format(format));
  for (const r of [m.epochCurrent, m.epochAll]) r.addEventListener('change', () => on.epochs());
  m.element.addEventListener('keydown', (event) => {
    const open = !m.popover.hidden;
    const buttons = Object.values(m.items).map((i) => i.button).filter((b) => !b.disabled);
    const at = buttons.indexOf(document.activeElement);
    if (event.key === 'Escape' && open) {
      closeMenu(m);
      event.preventDefault();
      event.stopPropagation();
    } else if (event.key === 'ArrowDown' && event.target === m.button && !open) {
      on.open();
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
    if (!m.popover.hidden && !m.element.contains(event.target)) closeMenu(m, false);
  });
  m.element.addEventListener('focusout', (event) => {
    if (!m.popover.hidden && event.relatedTarget && !m.element.contains(event.relatedTarget)) closeMenu(m, false);
  });
}
