// Geometry of a tiled grid image: the JavaScript twin of tb_featureviz.metadata.GridLayout, which the
// `/index` document sends as `kinds.<kind>[].layout`. Pure functions of the layout and plain numbers;
// tests/test_frontend_layout.py checks them against the Python class.

/** @typedef {import('./types.js').GridLayout} GridLayout */

/**
 * Width of the grid image in pixels (`GridLayout.width`).
 * @param {GridLayout} layout
 * @returns {number}
 */
export function gridWidth(layout) {
  return layout.cols * layout.tile_width + (layout.cols - 1) * layout.padding;
}

/**
 * Height of the grid image in pixels (`GridLayout.height`).
 * @param {GridLayout} layout
 * @returns {number}
 */
export function gridHeight(layout) {
  return layout.rows * layout.tile_height + (layout.rows - 1) * layout.padding;
}

/**
 * `[x, y]` of the top-left pixel of tile `index` (`GridLayout.tile_origin`).
 * @param {GridLayout} layout
 * @param {number} index  Row-major tile index, `0 <= index < layout.count`.
 * @returns {[number, number]}
 * @throws {RangeError} `index` is not a tile of the grid.
 * @example tileOrigin({rows: 2, cols: 3, tile_width: 4, tile_height: 4, padding: 1, count: 5}, 4)  // [5, 5]
 */
export function tileOrigin(layout, index) {
  if (!Number.isInteger(index) || index < 0 || index >= layout.count) {
    throw new RangeError(`Tile index out of range [0, ${layout.count}). Received: index=${index}`);
  }
  const row = Math.floor(index / layout.cols);
  const col = index % layout.cols;
  return [col * (layout.tile_width + layout.padding), row * (layout.tile_height + layout.padding)];
}

/**
 * `[x, y, width, height]` of tile `index`, as a canvas source rectangle.
 * @param {GridLayout} layout
 * @param {number} index
 * @returns {[number, number, number, number]}
 * @throws {RangeError} `index` is not a tile of the grid.
 */
export function tileRect(layout, index) {
  const [x, y] = tileOrigin(layout, index);
  return [x, y, layout.tile_width, layout.tile_height];
}

/**
 * The tile under pixel `(x, y)` of the grid image (fractional coordinates allowed), or null on the
 * padding between tiles, outside the image, or past the last tile of a partial last row.
 * @param {GridLayout} layout
 * @param {number} x
 * @param {number} y
 * @returns {number|null}
 */
export function tileAt(layout, x, y) {
  const col = Math.floor(x / (layout.tile_width + layout.padding));
  const row = Math.floor(y / (layout.tile_height + layout.padding));
  if (x - col * (layout.tile_width + layout.padding) >= layout.tile_width) return null;
  if (y - row * (layout.tile_height + layout.padding) >= layout.tile_height) return null;
  if (col < 0 || row < 0 || col >= layout.cols) return null;
  const k = row * layout.cols + col;
  return k < layout.count ? k : null;
}

/**
 * The `size` x `size` crop around `(y, x)` of a `height` x `width` image, moved inside it (never shrunk at
 * the border): `[x0, y0, x1, y1]`, end-exclusive. The twin of `tb_featureviz.metadata.crop_box`, which
 * cuts an exemplar (`exemplars/<layer>` records) out of its sample image.
 * @param {number} y  Row of the crop's centre.
 * @param {number} x  Column of the crop's centre.
 * @param {number} size  Side of the crop, >= 1.
 * @param {number} height  Image height.
 * @param {number} width  Image width.
 * @returns {[number, number, number, number]}
 * @throws {RangeError} `size`, `height` or `width` is not a positive integer.
 * @example cropBox(1, 7, 4, 8, 8)  // [4, 0, 8, 4]: near the top-right corner, moved inside
 */
export function cropBox(y, x, size, height, width) {
  for (const [name, v] of [['size', size], ['height', height], ['width', width]]) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer. Received: ${name}=${v}`);
  }
  const sideY = Math.min(size, height);
  const sideX = Math.min(size, width);
  const y0 = Math.max(0, Math.min(Math.trunc(y) - Math.floor(sideY / 2), height - sideY));
  const x0 = Math.max(0, Math.min(Math.trunc(x) - Math.floor(sideX / 2), width - sideX));
  return [x0, y0, x0 + sideX, y0 + sideY];
}
