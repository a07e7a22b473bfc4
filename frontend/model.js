// Talks to the plugin's HTTP API (tb_featureviz/plugin/http_api.md). Only relative URLs: TensorBoard
// serves this page with <base href="plugin/featureviz/">, and may mount everything under
// /experiment/<id>/ or a --path_prefix, so "index" resolves to .../data/plugin/featureviz/index.

/**
 * An error answered by the server, with its JSON message. `damaged` is true when the server says the
 * bytes of what was asked for are damaged in the event file (every other epoch is still readable).
 */
export class ApiError extends Error {
  constructor(status, message, damaged = false) {
    super(message);
    this.status = status;
    this.damaged = damaged;
  }
}

function query(route, params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) v.forEach((item) => search.append(k, String(item)));
    else if (v !== undefined && v !== null) search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `${route}?${s}` : route;
}

async function getJSON(route, params, {cache = 'no-store'} = {}) {
  const response = await fetch(query(route, params), {cache, credentials: 'same-origin'});
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const message = body && typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, Boolean(body && body.damaged === true));
  }
  return body;
}

/** Every run with what it holds: GET index. */
export function fetchIndex() {
  return getJSON('index');
}

/** Loss and metric curves of one run: GET scalars?run=. */
export function fetchScalars(run) {
  return getJSON('scalars', {run});
}

const stepCache = new Map();

/**
 * The record and image URLs of one written step: GET step?run=&tag=&step=. A written step never
 * changes, so answers are kept (failures are not).
 */
export function fetchStep(run, tag, step) {
  const key = JSON.stringify([run, tag, step]);
  if (!stepCache.has(key)) {
    const p = getJSON('step', {run, tag, step}, {cache: 'default'});
    p.catch(() => stepCache.delete(key));
    stepCache.set(key, p);
  }
  return stepCache.get(key);
}

const seriesCache = new Map();

/**
 * One image of a tag across every written epoch: GET series?run=&tag=&index=. `version` (e.g. the
 * number of steps the index lists) refreshes the answer once new epochs arrive.
 */
export function fetchSeries(run, tag, index, version = 0) {
  const key = JSON.stringify([run, tag, index, version]);
  if (!seriesCache.has(key)) {
    const p = getJSON('series', {run, tag, index});
    p.catch(() => seriesCache.delete(key));
    seriesCache.set(key, p);
  }
  return seriesCache.get(key);
}

const imageCache = new Map();

/**
 * Why an image URL did not load: asks the server again for its JSON error. Resolves to an ApiError;
 * `damaged` is true when the server reports the image damaged, or serves bytes that do not decode.
 */
async function imageError(url) {
  try {
    const response = await fetch(url, {cache: 'no-store', credentials: 'same-origin'});
    if (response.ok) return new ApiError(response.status, 'the image does not decode', true);
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    const message = body && typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`;
    return new ApiError(response.status, message, Boolean(body && body.damaged === true));
  } catch (e) {
    return new ApiError(0, `could not load image ${url}`);
  }
}

/**
 * Loads and decodes an image URL given by the server (relative, e.g. "blob?key=...").
 * Resolves to the HTMLImageElement once decoded; rejects with an ApiError (`damaged` true for an image
 * the server reports damaged). A damaged image stays rejected; other failures are retried next time.
 */
export function loadImage(url) {
  if (!imageCache.has(url)) {
    const img = new Image();
    img.decoding = 'async';
    const p = new Promise((resolve, reject) => {
      img.onload = () => resolve(img);
      img.onerror = () => imageError(url).then(reject);
    }).then(() => (img.decode ? img.decode().then(() => img, () => img) : img));
    p.catch((e) => { if (!(e && e.damaged)) imageCache.delete(url); });
    img.src = url;
    imageCache.set(url, p);
  }
  return imageCache.get(url);
}

/**
 * The relative URL of one export of a view: GET export?runs=&kinds=&layer=&epochs=&format=... (see
 * tb_featureviz/export/http.py). `view`: {runs: [names], kind, layer, epochs: 'all' | epoch number,
 * probe?, colormap?, channel?, scale?}; keys left null or undefined are not sent.
 */
export function exportUrl(view, format, job = null) {
  return query('export', {
    job,
    run: view.runs,  // repeated: run names may hold commas
    kinds: view.kind,
    layer: view.layer,
    epochs: view.epochs,
    format,
    probe: view.probe,
    colormap: view.colormap,
    channel: view.channel,
    scale: view.scale,
  });
}

/** The file name of a `Content-Disposition: attachment; filename=...` header (RFC 6266), or `fallback`. */
export function attachmentFilename(header, fallback) {
  if (!header) return fallback;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[2].trim());
    } catch (e) {
      // Malformed: try the plain parameter.
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted) return quoted[1].replace(/\\(.)/g, '$1');
  const token = /filename\s*=\s*([^;\s]+)/i.exec(header);
  return token ? token[1] : fallback;
}

/** A fresh id to follow an export's progress with (`export?job=` and `export_progress?job=`). */
export function newJobId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `{job, state: running|done|failed, phase: read|render, done, total, what}` of an export job. */
export function fetchExportProgress(job) {
  return getJSON('export_progress', {job});
}

/**
 * Runs one export: resolves to {blob, filename, damaged} once the whole file is here (`damaged`: how
 * many stored images were left out because their bytes are damaged), or rejects with an ApiError
 * carrying the server's JSON message (400/404/503).
 */
export async function fetchExport(url, fallbackName = 'featureviz-export') {
  const response = await fetch(url, {cache: 'no-store', credentials: 'same-origin'});
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && typeof body.error === 'string') message = body.error;
    } catch (e) {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  const blob = await response.blob();
  const damaged = Number(response.headers.get('X-FeatureViz-Damaged')) || 0;  // images left out of the file
  return {blob, filename: attachmentFilename(response.headers.get('Content-Disposition'), fallbackName), damaged};
}
