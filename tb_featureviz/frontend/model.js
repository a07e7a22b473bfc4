// Talks to the plugin's HTTP API (tb_featureviz/plugin/http_api.md). Only relative URLs: TensorBoard
// serves this page with <base href="plugin/featureviz/">, and may mount everything under
// /experiment/<id>/ or a --path_prefix, so "index" resolves to .../data/plugin/featureviz/index.
// Only fetching and caching here: no DOM beyond decoding images, no view state. The panels' steps and
// images come through one `/frame` request per tick (`loadStep`), kept in memory bounded by bytes.

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
    /** A waiting frame dropped it: the view moved past that epoch before it could be asked for. */
    this.superseded = false;
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
 * The JSON body of a response; rejects with the response's ApiError when it is not ok.
 * @param {Response} response
 * @returns {Promise<*>}
 */
async function readJSON(response) {
  if (!response.ok) throw await responseError(response);
  try {
    return await response.json();
  } catch (e) {
    return null;
  }
}

/**
 * The ApiError of a response that is not ok: the server's JSON message and `damaged` flag, else its status line.
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
async function responseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  const message = body && typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`;
  return new ApiError(response.status, message, Boolean(body && body.damaged === true));
}

/** Most runs one `/index` request reads in full (the plugin's MAX_INDEX_RUNS). */
export const MAX_INDEX_RUNS = 64;

/**
 * Every run with what it holds: GET index?run=&run=... In a sweep of many runs the plugin lists most
 * runs from TensorBoard's listing only (`partial: true`, no steps); the runs named here (the ones on
 * show, at most MAX_INDEX_RUNS) come in full.
 * @param {string[]} [runs]
 * @returns {Promise<IndexDoc>}
 */
export function fetchIndex(runs = []) {
  return getRevalidated(query('index', {run: runs.slice(-MAX_INDEX_RUNS)}), 'index');
}

/** Most documents `getRevalidated` keeps (one per run's curves, and the index). */
const MAX_KEPT_DOCS = 256;

/** slot -> {etag, doc}: the last document parsed for a polled route, most recently used last. */
const keptDocs = new Map();

/**
 * GETs a polled JSON route that the browser keeps and revalidates (`cache: 'no-cache'`, If-None-Match). While
 * its entity tag holds (a 304 behind the scenes), the document parsed last time for `slot` is handed back
 * as is: the same object, so the caller can tell nothing changed without parsing or comparing.
 * @param {string} url
 * @param {string} slot
 * @returns {Promise<*>}
 */
async function getRevalidated(url, slot) {
  const response = await fetch(url, {cache: 'no-cache', credentials: 'same-origin'});
  const etag = response.ok ? response.headers.get('ETag') : null;
  const kept = keptDocs.get(slot);
  keptDocs.delete(slot);
  if (etag && kept && kept.etag === etag) {
    keptDocs.set(slot, kept);
    return kept.doc;
  }
  const doc = await readJSON(response);
  if (etag) keptDocs.set(slot, {etag, doc});
  while (keptDocs.size > MAX_KEPT_DOCS) keptDocs.delete(keptDocs.keys().next().value);
  return doc;
}

/**
 * Loss and metric curves of one run: GET scalars?run=.
 * @param {string} run
 * @returns {Promise<ScalarsDoc>}
 */
export function fetchScalars(run) {
  return getRevalidated(query('scalars', {run}), `scalars:${run}`);
}

/**
 * A map bounded by the bytes of what it holds: the least recently used entries go first.
 */
class ByteLRU {
  /** @param {number} maxBytes */
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.bytes = 0;
    /** @type {Map<string, {value: *, size: number}>} */
    this.entries = new Map();
  }

  /** @param {string} key */
  get(key) {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);  // now the most recently used
    this.entries.set(key, e);
    return e.value;
  }

  /**
   * @param {string} key
   * @param {*} value
   * @param {number} size  Its bytes (a decoded image: width x height x 4).
   */
  set(key, value, size) {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.size;
    }
    if (size > this.maxBytes / 4) return;  // never let one entry push out a quarter of the rest
    this.entries.set(key, {value, size});
    this.bytes += size;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.size;
    }
  }
}

/** Written steps never change: their documents (by [run, tag, step]) and decoded images (by blob URL) are kept. */
const stepDocs = new ByteLRU(16 * 1024 * 1024);
const bitmaps = new ByteLRU(192 * 1024 * 1024);
/** Blob URL -> the ApiError of an image the server reports damaged (it stays damaged); at most 1000 kept. */
const damagedImages = new Map();
/** [run, tag, step] -> its document while a frame that holds it is on the way; `...#i` -> image i. */
const inflightDocs = new Map();
/** [run, tag, step] -> its item while it is not settled (batched, waiting or on the way). */
const queuedItems = new Map();
const inflightImages = new Map();

/** Most items of one /frame request, and images per item (the server's bounds, http_api.md). */
export const FRAME_MAX_ITEMS = 64;
const FRAME_MAX_IMAGES = 16;
/** Longest `q` sent (characters, URL-encoded); a longer batch is split. */
const FRAME_MAX_QUERY = 12000;

/** The requests of this tick, sent together by `flushFrame` (one /frame request). */
let batch = null;

/**
 * Most `/frame` requests on the way at once. Holding an arrow key asks for epochs faster than a loaded
 * server reads them (20 panels under the Rust loader: ~40 blobs of ~1 ms each per epoch, 30 epochs a
 * second); further frames wait, and when one may go, what the view has moved past is dropped from it, so
 * the screen follows the key instead of working through a backlog.
 */
const MAX_FRAMES_IN_FLIGHT = 2;
let framesInFlight = 0;
/** @type {Array<Array<{item: *, indices: number[]}>>} */
const waitingFrames = [];
/** Whether a droppable step is still wanted when its frame may go (set by the panels: the view's epochs). */
let stillWanted = (run, tag, step) => true;

/**
 * Sets what a waiting frame keeps of its droppable items (the panels' views and prefetches): a step for
 * which `wanted(run, tag, step)` is false is dropped, its promises rejected with `superseded` set.
 * @param {function(string, string, number): boolean} wanted
 */
export function setStillWanted(wanted) {
  stillWanted = wanted;
}

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => {});  // a caller that never awaits it (a prefetch) leaves no unhandled rejection
  return {promise, resolve, reject};
}

function stepKey(run, tag, step) {
  return JSON.stringify([run, tag, step]);
}

/**
 * Adds `[run, tag, step]` (and image `index`, unless null) to this tick's batch.
 * @returns {Promise<*>}  The document (index null) or the decoded image.
 */
function enqueue(run, tag, step, index, droppable = false) {
  if (!batch) {
    batch = new Map();
    queueMicrotask(flushFrame);
  }
  const key = stepKey(run, tag, step);
  let item = batch.get(key);
  if (item) item.droppable = item.droppable && droppable;  // one caller that must have it keeps it
  if (!item) {
    item = {key, run, tag, step, doc: deferred(), images: new Map(), droppable};
    queuedItems.set(key, item);
    item.doc.promise.then(() => forget(queuedItems, key, item), () => forget(queuedItems, key, item));
    batch.set(key, item);
    if (!inflightDocs.has(key)) inflightDocs.set(key, item.doc.promise);
    item.doc.promise.then(() => forget(inflightDocs, key, item.doc.promise), () => forget(inflightDocs, key, item.doc.promise));
  }
  if (index === null) return inflightDocs.get(key) || item.doc.promise;
  let d = item.images.get(index);
  if (!d) {
    d = deferred();
    item.images.set(index, d);
    const ik = `${key}#${index}`;
    inflightImages.set(ik, d.promise);
    d.promise.then(() => forget(inflightImages, ik, d.promise), () => forget(inflightImages, ik, d.promise));
  }
  return d.promise;
}

function forget(map, key, promise) {
  if (map.get(key) === promise) map.delete(key);
}

/**
 * One written step and some of its decoded images, through the frame loader: every call of one tick goes
 * into one `/frame` request (a panel's grid, its plan record, the prefetched epochs), and what was loaded
 * before is answered from memory. A written step never changes.
 * @param {string} run
 * @param {string} tag
 * @param {number} step
 * @param {number[]} [indices]  Indices into the step's `images`.
 * @param {{droppable?: boolean}} [options]  `droppable`: a view or prefetch of an epoch that may be dropped
 *     from a waiting frame once the view moved past it (its promises reject with `superseded` set).
 * @returns {{doc: Promise<StepDoc>, images: Array<Promise<ImageBitmap>>}}  The document (rejects with the
 *     item's ApiError: unknown run, tag or step, damaged record) and each image (an ApiError, `damaged`
 *     true for damaged bytes, when it cannot be shown).
 */
export function loadStep(run, tag, step, indices = [], {droppable = false} = {}) {
  const key = stepKey(run, tag, step);
  const queued = queuedItems.get(key);
  if (queued && !droppable) queued.droppable = false;  // a caller that must have it: never dropped
  const cached = stepDocs.get(key);
  const doc = cached ? Promise.resolve(cached) : (inflightDocs.get(key) || enqueue(run, tag, step, null, droppable));
  const images = indices.map((i) => {
    if (cached) {
      const url = cached.images[i];
      if (url === undefined) return Promise.reject(new ApiError(404, `Run ${run} tag ${tag} step ${step} has no image ${i}.`));
      const bitmap = bitmaps.get(url);
      if (bitmap) return Promise.resolve(bitmap);
      if (damagedImages.has(url)) return Promise.reject(damagedImages.get(url));
    }
    return inflightImages.get(`${key}#${i}`) || enqueue(run, tag, step, i, droppable);
  });
  for (const p of images) p.catch(() => {});
  return {doc, images};
}

/**
 * The document of a written step if it is in memory (no request), else null.
 * @param {string} run
 * @param {string} tag
 * @param {number} step
 * @returns {StepDoc|null}
 */
export function peekStep(run, tag, step) {
  return stepDocs.get(stepKey(run, tag, step)) || null;
}

/**
 * The record and image URLs of one written step (through the frame loader, see `loadStep`).
 * @param {string} run
 * @param {string} tag
 * @param {number} step
 * @returns {Promise<StepDoc>}
 */
export function fetchStep(run, tag, step) {
  return loadStep(run, tag, step).doc;
}

/** Sends this tick's batch: one `/frame` request per FRAME_MAX_ITEMS items (and per FRAME_MAX_QUERY characters). */
function flushFrame() {
  const items = [];
  for (const item of batch.values()) {
    const indices = [...item.images.keys()];
    if (indices.length <= FRAME_MAX_IMAGES) items.push({item, indices});
    else for (let i = 0; i < indices.length; i += FRAME_MAX_IMAGES) items.push({item, indices: indices.slice(i, i + FRAME_MAX_IMAGES)});
  }
  batch = null;
  let chunk = [];
  let length = 0;
  for (const part of items) {
    const size = encodeURIComponent(JSON.stringify([part.item.run, part.item.tag, part.item.step, part.indices])).length + 3;
    if (chunk.length && (chunk.length >= FRAME_MAX_ITEMS || length + size > FRAME_MAX_QUERY)) {
      sendFrame(chunk);
      chunk = [];
      length = 0;
    }
    chunk.push(part);
    length += size;
  }
  if (chunk.length) sendFrame(chunk);
}

/**
 * Sends a frame, or lets it wait while MAX_FRAMES_IN_FLIGHT are on the way.
 * @param {Array<{item: *, indices: number[]}>} parts
 */
function sendFrame(parts) {
  if (framesInFlight >= MAX_FRAMES_IN_FLIGHT) {
    waitingFrames.push(parts);
    return;
  }
  framesInFlight++;
  requestFrame(parts).finally(() => {
    framesInFlight--;
    sendWaitingFrame();
  });
}

/** Sends the oldest waiting frame, without the droppable steps the view has moved past. */
function sendWaitingFrame() {
  while (waitingFrames.length && framesInFlight < MAX_FRAMES_IN_FLIGHT) {
    const kept = [];
    for (const part of waitingFrames.shift()) {
      const {item} = part;
      if (!item.droppable || stillWanted(item.run, item.tag, item.step)) {
        kept.push(part);
        continue;
      }
      const error = new ApiError(0, `epoch ${item.step} was passed before it was loaded`);
      error.superseded = true;
      item.doc.reject(error);
      for (const i of part.indices) item.images.get(i).reject(error);
    }
    if (kept.length) sendFrame(kept);
  }
}

/**
 * GET frame?q=[[run, tag, step, [indices]], ...]: the bundle of http_api.md (a 4-byte big-endian header
 * length, the JSON header, the image bytes). Settles every part: documents into memory, images decoded off
 * the main thread (`createImageBitmap`).
 * @param {Array<{item: *, indices: number[]}>} parts
 */
async function requestFrame(parts) {
  const q = JSON.stringify(parts.map(({item, indices}) => [item.run, item.tag, item.step, indices]));
  let header;
  let buffer;
  try {
    const response = await fetch(query('frame', {q}), {cache: 'default', credentials: 'same-origin'});
    if (!response.ok) throw await responseError(response);
    buffer = await response.arrayBuffer();
    const n = new DataView(buffer).getUint32(0);
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
    const body = 4 + n;
    parts.forEach((part, j) => settle(part, header.items[j], buffer, body));
  } catch (e) {
    const error = e instanceof ApiError ? e : new ApiError(0, `could not load a frame: ${e && e.message ? e.message : e}`);
    for (const {item, indices} of parts) {
      item.doc.reject(error);
      for (const i of indices) item.images.get(i).reject(error);
    }
  }
}

/**
 * Settles one part of a frame from its header entry.
 * @param {{item: *, indices: number[]}} part
 * @param {*} entry  The item of the frame's header.
 * @param {ArrayBuffer} buffer
 * @param {number} body  Where the image bytes start.
 */
function settle({item, indices}, entry, buffer, body) {
  if (!entry || entry.status !== 200) {
    const error = new ApiError(entry ? entry.status : 0, entry ? entry.error : 'missing from the frame', Boolean(entry && entry.damaged));
    item.doc.reject(error);
    for (const i of indices) item.images.get(i).reject(error);
    return;
  }
  const doc = entry.doc;
  stepDocs.set(item.key, doc, 2 * JSON.stringify(doc).length);
  item.doc.resolve(doc);
  const byIndex = new Map(entry.images.map((e) => [e.index, e]));
  for (const i of indices) {
    const d = item.images.get(i);
    const e = byIndex.get(i);
    const url = doc.images[i];
    if (!e || e.status !== 200) {
      const error = new ApiError(e ? e.status : 404, e ? e.error : `no image ${i} in the frame`, Boolean(e && e.damaged));
      if (error.damaged && url) rememberDamaged(url, error);
      d.reject(error);
      continue;
    }
    const blob = new Blob([new Uint8Array(buffer, body + e.offset, e.length)], {type: e.type});
    createImageBitmap(blob).then((bitmap) => {
      bitmaps.set(url, bitmap, bitmap.width * bitmap.height * 4);
      d.resolve(bitmap);
    }, () => {
      const error = new ApiError(200, 'the image does not decode', true);
      rememberDamaged(url, error);
      d.reject(error);
    });
  }
}

function rememberDamaged(url, error) {
  damagedImages.set(url, error);
  if (damagedImages.size > 1000) damagedImages.delete(damagedImages.keys().next().value);
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

const imageLoads = new Map();

/**
 * Loads and decodes an image URL given by the server (relative, e.g. "blob?key=..."), off the main thread
 * (`createImageBitmap`); images a frame brought are answered from memory. Resolves to the ImageBitmap;
 * rejects with an ApiError carrying the server's JSON message (`damaged` true for an image the server
 * reports damaged, or bytes that do not decode). A damaged image stays rejected; other failures are retried
 * next time.
 * @param {string} url
 * @returns {Promise<ImageBitmap>}
 */
export function loadImage(url) {
  const bitmap = bitmaps.get(url);
  if (bitmap) return Promise.resolve(bitmap);
  if (damagedImages.has(url)) return Promise.reject(damagedImages.get(url));
  if (!imageLoads.has(url)) {
    const p = (async () => {
      let response;
      try {
        response = await fetch(url, {cache: 'default', credentials: 'same-origin'});
      } catch (e) {
        throw new ApiError(0, `could not load image ${url}`);
      }
      if (!response.ok) {
        const error = await responseError(response);
        if (error.damaged) rememberDamaged(url, error);
        throw error;
      }
      let decoded;
      try {
        decoded = await createImageBitmap(await response.blob());
      } catch (e) {
        const error = new ApiError(response.status, 'the image does not decode', true);
        rememberDamaged(url, error);
        throw error;
      }
      bitmaps.set(url, decoded, decoded.width * decoded.height * 4);
      return decoded;
    })();
    imageLoads.set(url, p);
    p.then(() => imageLoads.delete(url), () => imageLoads.delete(url));
  }
  return imageLoads.get(url);
}

const probeImageCache = new Map();

/**
 * Probe image `probe` of `run`, for laying heatmaps over: from `knownUrls` (`/index`'s `probes.images`)
 * when it lists it, else through GET series?tag=probes (kept; failures are not).
 * @param {string} run
 * @param {number} probe
 * @param {string[]|undefined|null} knownUrls
 * @returns {Promise<ImageBitmap>}
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
  if (!response.ok) throw await responseError(response);
  const blob = await response.blob();
  const damaged = Number(response.headers.get('X-FeatureViz-Damaged')) || 0;  // images left out of the file
  return {blob, filename: attachmentFilename(response.headers.get('Content-Disposition'), fallbackName), damaged};
}
