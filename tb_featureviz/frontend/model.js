// Talks to the plugin's HTTP API (tb_featureviz/plugin/http_api.md). Only relative URLs: TensorBoard
// serves this page with <base href="plugin/featureviz/">, and may mount everything under
// /experiment/<id>/ or a --path_prefix, so "index" resolves to .../data/plugin/featureviz/index.
// Only fetching and caching here: no DOM beyond decoding images, no view state.

/**
 * @typedef {import('./types.js').IndexDoc} IndexDoc
 * @typedef {import('./types.js').StepDoc} StepDoc
 * @typedef {import('./types.js').SeriesDoc} SeriesDoc
 * @typedef {import('./types.js').ScalarsDoc} ScalarsDoc
 * @typedef {import('./types.js').ExportProgress} ExportProgress
 * @typedef {import('./types.js').ExportView} ExportView
 */

/**
 * An error answered by the server, with its JSON message. `damaged` is true when the server says the
 * bytes of what was asked for are damaged in the event file (every other epoch is still readable).
 */
export class ApiError extends Error {
  /**
   * @param {number} status  The HTTP status (0: no answer).
   * @param {string} message
   * @param {boolean} [damaged]
   */
  constructor(status, message, damaged = false) {
    super(message);
    this.status = status;
    this.damaged = damaged;
  }
}

/**
 * `route?k=v&...` for the params that are set (arrays repeat their key).
 * @param {string} route
 * @param {Object<string, *>} [params]
 * @returns {string}
 */
function query(route, params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (Array.isArray(v)) v.forEach((item) => search.append(k, String(item)));
    else if (v !== undefined && v !== null) search.set(k, String(v));
  }
  const s = search.toString();
  return s ? `${route}?${s}` : route;
}

/**
 * GETs a JSON route; rejects with an ApiError carrying the server's JSON message.
 * @param {string} route
 * @param {Object<string, *>} [params]
 * @param {{cache?: RequestCache}} [options]
 * @returns {Promise<*>}
 */
async function getJSON(route, params, {cache = 'no-store'} = {}) {
  return readJSON(await fetch(query(route, params), {cache, credentials: 'same-origin'}));
}

/**
 * The JSON body of a response; rejects with an ApiError carrying the server's JSON message.
 * @param {Response} response
 * @returns {Promise<*>}
 */
async function readJSON(response) {
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

/** Most runs one `/index` request reads in full (the plugin's MAX_INDEX_RUNS). */
export const MAX_INDEX_RUNS = 64;

/** The last `/index` document parsed and its entity tag. */
let lastIndex = {etag: null, doc: null};

/**
 * Every run with what it holds: GET index?run=&run=... In a sweep of many runs the plugin lists most
 * runs from TensorBoard's listing only (`partial: true`, no steps); the runs named here (the ones on
 * show, at most MAX_INDEX_RUNS) come in full.
 * @param {string[]} [runs]
 * @returns {Promise<IndexDoc>}
 */
export async function fetchIndex(runs = []) {
  // 'no-cache': the browser keeps the answer and revalidates it (If-None-Match); an unchanged index is a
  // 304, and the document parsed last time is handed back as is (the same object: nothing to redraw).
  const url = query('index', {run: runs.slice(-MAX_INDEX_RUNS)});
  const response = await fetch(url, {cache: 'no-cache', credentials: 'same-origin'});
  const etag = response.ok ? response.headers.get('ETag') : null;
  if (etag && lastIndex.etag === etag) return lastIndex.doc;
  const body = await readJSON(response);
  if (etag) lastIndex = {etag, doc: body};
  return body;
}


/**
 * Loss and metric curves of one run: GET scalars?run=.
 * @param {string} run
 * @returns {Promise<ScalarsDoc>}
 */
export function fetchScalars(run) {
  return getJSON('scalars', {run});
}

const stepCache = new Map();

/**
 * The record and image URLs of one written step: GET step?run=&tag=&step=. A written step never
 * changes, so answers are kept (failures are not).
 * @param {string} run
 * @param {string} tag
 * @param {number} step
 * @returns {Promise<StepDoc>}
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
 * @param {string} run
 * @param {string} tag
 * @param {number} index
 * @param {number} [version]
 * @returns {Promise<SeriesDoc>}
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
/**
 * @param {string} url
 * @returns {Promise<ApiError>}
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
 * @param {string} url
 * @returns {Promise<HTMLImageElement>}
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

const probeImageCache = new Map();

/**
 * Probe image `probe` of `run`, for laying heatmaps over: from `knownUrls` (`/index`'s `probes.images`)
 * when it lists it, else through GET series?tag=probes (kept; failures are not).
 * @param {string} run
 * @param {number} probe
 * @param {string[]|undefined|null} knownUrls
 * @returns {Promise<HTMLImageElement>}
 */
export function loadProbeImage(run, probe, knownUrls) {
  const key = JSON.stringify([run, probe]);
  if (knownUrls && knownUrls[probe]) return loadImage(knownUrls[probe]);
  if (!probeImageCache.has(key)) {
    const p = fetchSeries(run, 'probes', probe).then((series) => loadImage(series.images[0]));
    p.catch(() => probeImageCache.delete(key));
    probeImageCache.set(key, p);
  }
  return probeImageCache.get(key);
}

/**
 * The relative URL of one export of a view: GET export?runs=&kinds=&layer=&epochs=&format=... (see
 * http_api.md). Keys of `view` left null or undefined are not sent.
 * @param {ExportView} view
 * @param {string} format
 * @param {string|null} [job]  An id to follow the export with (`newJobId`).
 * @returns {string}
 */
export function exportUrl(view, format, job = null) {
  const own = {};  // layer@<run>: the runs that show their own layer (PICK_PREFIX of state.js)
  for (const [run, layer] of Object.entries(view.layers || {})) own[`layer@${run}`] = layer;
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
    ...own,
  });
}

/**
 * The file name of a `Content-Disposition: attachment; filename=...` header (RFC 6266), or `fallback`.
 * @param {string|null} header
 * @param {string} fallback
 * @returns {string}
 */
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

/**
 * A fresh id to follow an export's progress with (`export?job=` and `export_progress?job=`).
 * @returns {string}  24 hex digits.
 */
export function newJobId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * How far export `job` has come: GET export_progress?job=.
 * @param {string} job
 * @returns {Promise<ExportProgress>}
 */
export function fetchExportProgress(job) {
  return getJSON('export_progress', {job});
}

/**
 * Runs one export: resolves to {blob, filename, damaged} once the whole file is here (`damaged`: how
 * many stored images were left out because their bytes are damaged), or rejects with an ApiError
 * carrying the server's JSON message (400/404/503).
 * @param {string} url  What `exportUrl` returns.
 * @param {string} [fallbackName]  The file name when the answer names none.
 * @returns {Promise<{blob: Blob, filename: string, damaged: number}>}
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
