// The view state (what is on screen) and its two-way sync with the URL.
//
// The state lives in the iframe's own location.hash (history.replaceState, so no history spam) and is
// mirrored into TensorBoard's page hash with a "p.featureviz." prefix, the convention TensorBoard uses
// for plugin data in its URL. A bookmark of the TensorBoard page therefore restores the view.

import {TAB_KINDS} from './kinds.js';

const PREFIX = 'p.featureviz.';

/** The kinds the view state's `kind` may name: those of the toolbar (kinds.js). */
export {TAB_KINDS as KINDS};
export const ZOOMS = ['fit', '1', '2', '3', '4', '6', '8'];
/** URL key prefix of a run's own layer: `layer@<run>=<layer>` (the export route takes the same). */
export const PICK_PREFIX = 'layer@';
/** More selected runs than this make the panels compact unless the user says otherwise. */
export const COMPACT_AUTO = 6;
/** A shared stage choice: "k/n". */
export const STAGE_RE = /^[1-9]\d{0,5}\/[1-9]\d{0,5}$/;

/** The default view: filled in from the data once the index is known. */
export function defaultState() {
  return {
    runs: [],          // selected runs, in selection order
    kind: TAB_KINDS[0], // the first kind of the toolbar (kinds.js)
    layer: null,       // layer name of the chosen kind (runs that share their layer names)
    stage: null,       // "k/n": stage k of an n-stage run (runs of different architectures), or null
    picks: {},         // run -> its own layer for the view, where the user picked one in its panel
    probe: 0,          // probe image index
    epoch: null,       // null: the latest
    cmap: 'viridis',   // colour map of grayscale images
    zoom: 'fit',       // 'fit' or an integer factor as a string
    opacity: 0.5,      // Grad-CAM heatmap opacity
    follow: true,      // keep the newest epoch on show while training writes
    channel: null,     // drilled-down channel (activations) or filter index (filters), not a tile; or null
    filter: '',        // the run list's filter: a name substring, or /regex/
    group: null,       // the run_info key the run list is grouped by (facts.js groupKeys), or null
    compact: null,     // compact panels: true, false, or null (automatic: on for more than COMPACT_AUTO runs)
  };
}

/** Encodes a state as URLSearchParams (only what differs from the defaults, runs always). */
export function toParams(state) {
  const d = defaultState();
  const p = new URLSearchParams();
  for (const run of state.runs) p.append('run', run);
  if (state.kind !== d.kind) p.set('kind', state.kind);
  if (state.layer) p.set('layer', state.layer);
  if (state.stage) p.set('stage', state.stage);
  for (const [run, layer] of Object.entries(state.picks || {})) p.set(`${PICK_PREFIX}${run}`, layer);
  if (state.probe !== d.probe) p.set('probe', String(state.probe));
  if (state.epoch !== null && !state.follow) p.set('epoch', String(state.epoch));
  if (state.cmap !== d.cmap) p.set('cmap', state.cmap);
  if (state.zoom !== d.zoom) p.set('zoom', state.zoom);
  if (state.opacity !== d.opacity) p.set('opacity', String(Math.round(state.opacity * 100)));
  if (!state.follow) p.set('follow', '0');
  if (state.channel !== null) p.set('channel', String(state.channel));
  if (state.filter) p.set('filter', state.filter);
  if (state.group) p.set('group', state.group);
  if (state.compact !== null && state.compact !== undefined) p.set('compact', state.compact ? '1' : '0');
  return p;
}

function intOr(value, fallback) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Decodes URLSearchParams into a partial state (only the keys present and valid). */
export function fromParams(p) {
  const s = {};
  const runs = p.getAll('run');
  if (runs.length) s.runs = runs;
  if (TAB_KINDS.includes(p.get('kind'))) s.kind = p.get('kind');
  if (p.get('layer')) s.layer = p.get('layer');
  if (STAGE_RE.test(p.get('stage') || '')) s.stage = p.get('stage');
  const picks = {};
  for (const [k, v] of p) if (k.startsWith(PICK_PREFIX) && k.length > PICK_PREFIX.length && v) picks[k.slice(PICK_PREFIX.length)] = v;
  if (Object.keys(picks).length) s.picks = picks;
  if (p.has('probe')) s.probe = intOr(p.get('probe'), 0);
  if (p.has('epoch')) {
    s.epoch = intOr(p.get('epoch'), null);
    if (s.epoch !== null) s.follow = false;
  }
  if (p.get('cmap')) s.cmap = p.get('cmap');
  if (ZOOMS.includes(p.get('zoom'))) s.zoom = p.get('zoom');
  if (p.has('opacity')) s.opacity = Math.min(100, intOr(p.get('opacity'), 50)) / 100;
  if (p.get('follow') === '0') s.follow = false;
  if (p.get('follow') === '1') s.follow = true;
  if (p.has('channel')) s.channel = intOr(p.get('channel'), null);
  if (p.get('filter')) s.filter = p.get('filter');
  if (p.get('group')) s.group = p.get('group');
  if (p.get('compact') === '1') s.compact = true;
  if (p.get('compact') === '0') s.compact = false;
  return s;
}

function parentWindow() {
  try {
    if (window.parent && window.parent !== window && window.parent.location.href) return window.parent;
  } catch (e) {
    // Not same-origin: no mirroring.
  }
  return null;
}

/** Our params from TensorBoard's page hash ("#featureviz&p.featureviz.run=a&..."), if any. */
function readParentParams() {
  const parent = parentWindow();
  if (!parent) return null;
  const hash = parent.location.hash.replace(/^#/, '');
  const ours = new URLSearchParams();
  for (const part of hash.split('&')) {
    if (!part.startsWith(PREFIX)) continue;
    const eq = part.indexOf('=');
    const key = part.slice(PREFIX.length, eq < 0 ? undefined : eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    try {
      ours.append(decodeURIComponent(key), decodeURIComponent(value.replace(/\+/g, ' ')));
    } catch (e) {
      // A malformed part is skipped.
    }
  }
  return [...ours.keys()].length ? ours : null;
}

/** The state encoded in the URL: the iframe's own hash first, else TensorBoard's page hash. */
export function readUrl() {
  const own = window.location.hash.replace(/^#/, '');
  if (own) return fromParams(new URLSearchParams(own));
  const parent = readParentParams();
  return parent ? fromParams(parent) : {};
}

/** Writes the state into the iframe's hash and mirrors it into TensorBoard's page hash. */
export function writeUrl(state) {
  const params = toParams(state);
  // Full URLs: a bare "#..." would resolve against the page's <base href>, not the page itself.
  const own = new URL(window.location.href);
  own.hash = params.toString();
  if (own.href !== window.location.href) history.replaceState(history.state, '', own.href);
  const parent = parentWindow();
  if (!parent) return;
  try {
    const kept = parent.location.hash.replace(/^#/, '').split('&').filter((p) => p && !p.startsWith(PREFIX));
    const mirrored = [];
    for (const [k, v] of params) mirrored.push(`${PREFIX}${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
    const next = new URL(parent.location.href);
    next.hash = [...kept, ...mirrored].join('&');
    if (next.href !== parent.location.href) parent.history.replaceState(parent.history.state, '', next.href);
  } catch (e) {
    // The host page refused; the iframe's own hash still holds the view.
  }
}

/**
 * A tiny observable store: `get()`, `set(patch)` (notifies subscribers with the keys that changed),
 * `subscribe(fn)`.
 */
export function createStore(initial) {
  let state = {...initial};
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const changed = Object.keys(patch).filter((k) => JSON.stringify(state[k]) !== JSON.stringify(patch[k]));
      if (!changed.length) return;
      state = {...state, ...patch};
      for (const fn of listeners) fn(state, new Set(changed));
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
