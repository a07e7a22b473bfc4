// What a `/step` record says about its grid: which channel or filter each tile shows, and the one-line
// summaries the panels print; and which exemplars an `exemplars/<layer>` record gives a channel. Pure
// functions of the record (tb_featureviz/metadata.py has its format).
//
// Tile k of a grid shows channel record.channels[k] of a reduced activation grid (channel k without
// that list), and filter record.filters[k] of a filter grid. The view state's `channel` holds that
// channel or filter index, never a tile position: it names the same channel at every epoch, under a
// filter rotation too, and is what the export's `channel` means.

/**
 * @typedef {import('./types.js').GridLayout} GridLayout
 * @typedef {import('./types.js').ActivationRecord} ActivationRecord
 * @typedef {import('./types.js').FilterRecord} FilterRecord
 * @typedef {import('./types.js').FilterSchedule} FilterSchedule
 * @typedef {ActivationRecord|FilterRecord|Object} GridRecord
 */

/**
 * The channel (or filter) of each tile, when the record lists them.
 * @param {string} kind  "activations" or "filters".
 * @param {GridRecord|null} record
 * @returns {number[]|null}
 */
export function tileList(kind, record) {
  const list = kind === 'filters' ? record && record.filters : record && record.channels;
  return Array.isArray(list) ? list : null;
}

/**
 * The channel (activations) or filter (filters) that tile `k` shows.
 * @param {string} kind
 * @param {GridRecord|null} record
 * @param {number} k
 * @returns {number}
 */
export function tileChannel(kind, record, k) {
  const list = tileList(kind, record);
  return list && list[k] !== undefined ? Number(list[k]) : k;
}

/**
 * The tile that shows channel or filter `c`, or null when this record's grid does not draw it.
 * @param {string} kind
 * @param {GridRecord|null} record
 * @param {number|null} c
 * @param {number} count  Tiles in the grid.
 * @returns {number|null}
 */
export function tileOf(kind, record, c, count) {
  if (c === null || c === undefined) return null;
  const list = tileList(kind, record);
  if (list) {
    const k = list.findIndex((v) => Number(v) === c);
    return k < 0 || k >= count ? null : k;
  }
  return c < count ? c : null;
}

/**
 * "Channel 7" or "Filter 7": what tile `k` shows.
 * @param {string} kind
 * @param {GridRecord|null} record
 * @param {number} k
 * @returns {string}
 */
export function tileName(kind, record, k) {
  return `${kind === 'filters' ? 'Filter' : 'Channel'} ${tileChannel(kind, record, k)}`;
}

/**
 * "a–b" of a pair.
 * @param {[number, number]} pair
 * @returns {string}
 */
export const span = (pair) => `${pair[0]}–${pair[1]}`;

/**
 * ", tiles 8×8 of 30×30 (1/4)" for tiles shrunk `scale` times from `h`×`w`, else ''.
 * @param {number|undefined} scale
 * @param {GridLayout|null} layout
 * @param {number|undefined} h
 * @param {number|undefined} w
 * @returns {string}
 */
function shrinkText(scale, layout, h, w) {
  if (!(scale > 1) || !layout) return '';
  const of = h && w ? ` of ${w}×${h}` : '';
  return `, tiles ${layout.tile_width}×${layout.tile_height}${of} (1/${scale})`;
}

/**
 * Whether a filter schedule draws a window of the layer's filters rather than all of them.
 * @param {FilterSchedule|undefined} schedule
 * @returns {boolean}
 */
export function rotating(schedule) {
  return Boolean(schedule && Array.isArray(schedule.window) && schedule.of &&
    !(schedule.window[0] <= 0 && schedule.window[1] >= schedule.of - 1));
}

/**
 * What a grid shows: "400 of 512 channels (most variable), tiles 8×8 of 30×30 (1/4)" for a reduced
 * activation grid, "filters 0–127 of 512 (+16 fixed), next 128–255 at epoch 10" under a filter rotation.
 * @param {string} kind
 * @param {GridRecord} record
 * @param {GridLayout|null} layout
 * @param {number} count  Tiles in the grid.
 * @returns {string}
 */
export function gridSummary(kind, record, layout, count) {
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

/**
 * The warning text of a record with non-finite values (a diverged model: drawn as 0, null in the
 * record), or null.
 * @param {Object|null} record
 * @returns {string|null}
 */
export function nonfiniteText(record) {
  const n = record && Number.isInteger(record.nonfinite) ? record.nonfinite : 0;
  if (n <= 0) return null;
  return `Non-finite: ${n} NaN or inf value${n > 1 ? 's' : ''} (the model diverged); drawn as 0.`;
}

/**
 * A ratio as a short number: one decimal from 1 to 10 ("4.2"), none from 10, two below 1 ("0.87").
 * @param {number} v
 * @returns {string}
 */
export function ratioText(v) {
  return v.toFixed(v >= 10 ? 0 : v >= 1 ? 1 : 2);
}

/**
 * The line under a filter grid on how hard the patterns drive their filters compared with the probe
 * images ("patterns drive their filters 4.2× the probes' activation (median)"), or null without one.
 * @param {Object|null} record  A filter record (`relative_median`).
 * @returns {string|null}
 */
export function relativeText(record) {
  const v = record ? record.relative_median : null;
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return `patterns drive their filters ${ratioText(v)}× the probes' activation (median)`;
}

/**
 * What a filter record says about tile `k`'s pattern compared with the probe images, or null when the
 * record does not say.
 * @param {Object|null} record  A filter record (`relative`).
 * @param {number} k
 * @returns {string|null}
 */
export function tileRelativeText(record, k) {
  const list = record && Array.isArray(record.relative) ? record.relative : null;
  if (!list || k >= list.length) return null;
  const v = list[k];
  if (v === null) return "the probes leave this filter silent: no ratio to the probes' activation";
  return typeof v === 'number' ? `its pattern drives it ${ratioText(v)}× the probes' mean activation` : null;
}

/**
 * One exemplar of an `exemplars/<layer>` record: sample image `image`, response `value` centred at (y, x).
 * @typedef {{image: number, y: number, x: number, value: number|null}} Exemplar
 */

/**
 * The exemplars of channel `c` in an exemplars record (best first), or null when the record has none for it
 * (a channel a reduced grid leaves out).
 * @param {import('./types.js').ExemplarsRecord|null} record
 * @param {number} c
 * @returns {Exemplar[]|null}
 */
export function exemplarsOf(record, c) {
  const channels = record && Array.isArray(record.channels) ? record.channels : null;
  const i = channels ? channels.findIndex((v) => Number(v) === c) : -1;
  const list = i >= 0 && Array.isArray(record.exemplars) ? record.exemplars[i] : null;
  if (!Array.isArray(list)) return null;
  return list.map(([image, y, x, value]) => ({image, y, x, value}));
}

/**
 * The newest of the sorted `steps` at or before `epoch`, or null.
 * @param {number[]} steps
 * @param {number} epoch
 * @returns {number|null}
 */
export function stepAtOrBefore(steps, epoch) {
  let best = null;
  for (const s of steps) if (s <= epoch) best = s;
  return best;
}
