// Colour maps as 256-entry lookup tables, computed here from a few anchor colours (no files to load).
//
// The anchors are ten evenly spaced samples of matplotlib's perceptual maps (van der Walt and Smith,
// 2015), the same ones as tb_featureviz/render/colormap.py, so the dashboard and the exports agree.

const ANCHORS = {
  gray: ['#000000', '#ffffff'],
  viridis: ['#440154', '#482878', '#3e4989', '#31688e', '#26828e',
            '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'],
  magma: ['#000004', '#180f3d', '#440f76', '#721f81', '#9e2f7f',
          '#cd4071', '#f1605d', '#fd9668', '#feca8d', '#fcfdbf'],
  inferno: ['#000004', '#1b0c41', '#4a0c6b', '#781c6d', '#a52c60',
            '#cf4446', '#ed6925', '#fb9b06', '#f7d13d', '#fcffa4'],
};

/** Names of the available colour maps, in menu order. */
export const COLORMAPS = Object.keys(ANCHORS);

const cache = new Map();

function hexToRgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

/**
 * The lookup table of colour map `name`: a Uint8Array of 256 * 3 values (r, g, b for each gray level),
 * linearly interpolated between the anchors.
 */
export function lut(name) {
  if (!(name in ANCHORS)) name = 'gray';
  if (cache.has(name)) return cache.get(name);
  const anchors = ANCHORS[name].map(hexToRgb);
  const table = new Uint8Array(256 * 3);
  const segments = anchors.length - 1;
  for (let v = 0; v < 256; v++) {
    const t = (v / 255) * segments;
    const i = Math.min(Math.floor(t), segments - 1);
    const f = t - i;
    for (let c = 0; c < 3; c++) {
      table[v * 3 + c] = Math.round(anchors[i][c] + (anchors[i + 1][c] - anchors[i][c]) * f);
    }
  }
  cache.set(name, table);
  return table;
}

/** A CSS linear-gradient showing colour map `name` (for the legend swatch). */
export function cssGradient(name) {
  const stops = (ANCHORS[name] || ANCHORS.gray).join(', ');
  return `linear-gradient(to right, ${stops})`;
}

/**
 * Maps the gray levels of an ImageData (read from the red channel) through colour map `name`, in place.
 * With `alpha` (0..1) every pixel's alpha is set to it as well.
 */
export function colorize(imageData, name, alpha = null) {
  const table = lut(name);
  const d = imageData.data;
  const a = alpha === null ? null : Math.round(alpha * 255);
  for (let p = 0; p < d.length; p += 4) {
    const v = d[p] * 3;
    d[p] = table[v];
    d[p + 1] = table[v + 1];
    d[p + 2] = table[v + 2];
    if (a !== null) d[p + 3] = a;
  }
  return imageData;
}

/**
 * Draws `source` (an image or canvas holding a grayscale picture) onto a new canvas of the same size,
 * colourised with `name`. Returns the canvas. Only the region (sx, sy, sw, sh) when given.
 */
export function colorizedCanvas(source, name, region = null) {
  const [sx, sy, sw, sh] = region || [0, 0, source.naturalWidth || source.width, source.naturalHeight || source.height];
  const canvas = document.createElement('canvas');
  canvas.width = sw;
  canvas.height = sh;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(source, sx, sy, sw, sh, 0, 0, sw, sh);
  if (name && name !== 'none') {
    const data = ctx.getImageData(0, 0, sw, sh);
    ctx.putImageData(colorize(data, name), 0, 0);
  }
  return canvas;
}
