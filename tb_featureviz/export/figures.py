"""Figures as pictures: colour map, tile crop, integer scale, caption strip, and animated GIFs.

Everything here works on ``Figure`` data classes and NumPy arrays, drawn as the (checked)
``ExportOptions`` say; colour maps and overlays come from ``tb_featureviz.render``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tb_featureviz.export.content import Figure, RunExport
from tb_featureviz.export.options import ExportOptions
from tb_featureviz.metadata import GridLayout
from tb_featureviz.render import (
    apply_colormap,
    colormap_lut,
    decode_png,
    encode_png,
    heatmap_overlay,
    neutral_separators,
)

DEFAULT_COLORMAP = "viridis"
"""Colour map of activation grids and heatmaps when none is chosen."""

CAPTION_HEIGHT = 20
"""Height in pixels of the caption strip under a PNG figure."""

STAMP_HEIGHT = 18
"""Height in pixels of the epoch strip on top of each GIF frame."""

GIF_FRAME_MS = 700
"""Display time of one GIF frame."""

OVERLAY_COLORMAP = "inferno"
"""Colour map of the Grad-CAM overlays the callback stores (``tb_featureviz.summary.gradcam``'s default);
overlays composed for runs that stored heatmaps only use it too."""

OVERLAY_ALPHA = 0.45
"""Heatmap opacity of the stored Grad-CAM overlays (``tb_featureviz.summary.gradcam``'s default)."""

_PAD = 6
_CAPTION_BG = (255, 255, 255)
_CAPTION_FG = (34, 34, 34)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_width(text: str, size: int) -> int:
    left, _, right, _ = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=_font(size))
    return int(np.ceil(right - left))


def crop_tile(image: np.ndarray, layout: GridLayout, tile: int) -> np.ndarray:
    """Cuts tile ``tile`` out of a grid image.

    Args:
        image: ``[H, W]`` or ``[H, W, C]`` grid drawn with ``layout``.
        layout: The grid geometry.
        tile: Row-major tile index.

    Returns:
        ``[tile_height, tile_width(, C)]`` view of ``image``.

    Raises:
        ValueError: ``tile`` is out of range.
    """
    x, y = layout.tile_origin(tile)
    return image[y : y + layout.tile_height, x : x + layout.tile_width]


def tile_for_channel(figure: Figure, channel: int) -> int:
    """The tile index that shows ``channel`` (activations) or filter ``channel`` (filters).

    A reduced activation grid maps the channel through its ``tile_channels`` (the record's ``channels``);
    a filter grid through its ``filters`` (with a rotation, they change from epoch to epoch).

    Raises:
        ValueError: the figure has no such channel or filter, or is not a grid.
    """
    if figure.layout is None:
        raise ValueError(f"{figure.kind} images are not grids; --channel applies to activations and filters.")
    if figure.kind == "filters" and figure.filters:
        if channel not in figure.filters:
            raise ValueError(
                f"Layer {figure.layer!r} has no pattern for filter {channel} at epoch {figure.epoch}; "
                f"its patterns there are for filters {compact_ranges(figure.filters)}."
            )
        return figure.filters.index(channel)
    total = figure.channels if figure.channels is not None else figure.layout.count
    if not 0 <= channel < total:
        raise ValueError(f"Layer {figure.layer!r} has channels 0..{total - 1}. Received: channel={channel}")
    if figure.tile_channels:
        if channel not in figure.tile_channels:
            raise ValueError(
                f"Channel {channel} of layer {figure.layer!r} was not drawn: its grid is reduced to "
                f"{len(figure.tile_channels)} of {total} channels ({compact_ranges(figure.tile_channels)})."
            )
        return figure.tile_channels.index(channel)
    if channel >= figure.layout.count:
        raise ValueError(
            f"Layer {figure.layer!r} has channels 0..{figure.layout.count - 1}. Received: channel={channel}"
        )
    return channel


def compact_ranges(values: Sequence[int], limit: int = 12) -> str:
    """``0..5, 9, 12..20``: sorted values with runs of three or more written as ranges (at most
    ``limit`` items, then ``...``)."""
    vals = sorted(set(values))
    items: list[str] = []
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        if j - i >= 2:
            items.append(f"{vals[i]}..{vals[j]}")
        else:
            items.extend(str(v) for v in vals[i : j + 1])
        i = j + 1
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")


def overlay_pixels(
    probe_png: bytes, heatmap_png: bytes, *, colormap: str = OVERLAY_COLORMAP, alpha: float = OVERLAY_ALPHA
) -> np.ndarray | None:
    """A Grad-CAM overlay composed from a probe image and its heatmap with ``render.heatmap_overlay``.

    Args:
        probe_png: The probe image (RGB or RGBA PNG).
        heatmap_png: The heatmap (grayscale PNG at the probe's size).
        colormap: Colour map of the heatmap.
        alpha: Heatmap opacity.

    Returns:
        ``[H, W, 3]`` uint8, or None when the heatmap is not grayscale or not the probe's size.
    """
    probe = decode_png(probe_png)
    heat = decode_png(heatmap_png)
    if probe.ndim != 3 or heat.ndim != 2 or heat.shape != probe.shape[:2]:
        return None
    return heatmap_overlay(np.ascontiguousarray(probe[..., :3]), heat, colormap=colormap, alpha=alpha)


def _redrawn_overlay(figure: Figure, options: ExportOptions, run: RunExport | None) -> np.ndarray | None:
    """A Grad-CAM overlay drawn again in ``options.colormap`` from its run's heatmap and probe image."""
    if run is None or not options.colormap or figure.kind != "gradcam" or figure.role != "overlay":
        return None
    heat = run.heatmap_for(figure)
    probe_png = run.probe_png(figure.probe)
    if heat is None or not probe_png:
        return None
    return overlay_pixels(probe_png, heat.png, colormap=options.colormap)


def figure_pixels(figure: Figure, options: ExportOptions, run: RunExport | None = None) -> np.ndarray:
    """The RGB pixels of a figure, as an export shows it.

    Grayscale images (activation grids, Grad-CAM heatmaps) go through ``options.colormap`` (default
    viridis), a grid's separators and empty cells in the neutral ``render.SEPARATOR_RGB``; RGB images
    (filter grids) are kept. A Grad-CAM overlay is kept as stored unless a colour map is given, in which
    case it is drawn again from its run's heatmap and probe image with that map.
    Activation and filter grids are cropped to ``options.channel``, if given.

    Args:
        figure: The figure.
        options: The colour map and channel.
        run: The figure's run, for redrawing an overlay.

    Returns:
        ``[H, W, 3]`` uint8.
    """
    composed = _redrawn_overlay(figure, options, run)
    pixels = decode_png(figure.png) if composed is None else composed
    if options.channel is not None and figure.layout is not None:
        pixels = crop_tile(pixels, figure.layout, tile_for_channel(figure, options.channel))
    if pixels.ndim == 2:
        rgb = apply_colormap(pixels, options.colormap or DEFAULT_COLORMAP)
        # separators and empty cells are not values: neutral grey, not the map's top colour
        return neutral_separators(rgb, figure.layout) if figure.layout is not None and options.channel is None else rgb
    if pixels.shape[-1] == 4:
        pixels = pixels[..., :3]
    return np.ascontiguousarray(pixels)


def scale_nearest(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Enlarges an image by an integer factor, nearest neighbour (every pixel becomes a square)."""
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be a positive int. Received: scale={scale!r}")
    if scale == 1:
        return pixels
    return np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


def add_caption(pixels: np.ndarray, text: str) -> np.ndarray:
    """Adds a white strip of ``CAPTION_HEIGHT`` pixels with ``text`` under an RGB image.

    The image keeps its pixels at the top-left; when the text is wider than the image, the canvas
    grows to the right (white).

    Args:
        pixels: ``[H, W, 3]`` uint8.
        text: One line.

    Returns:
        ``[H + CAPTION_HEIGHT, max(W, text width + 12), 3]`` uint8.
    """
    h, w = pixels.shape[:2]
    width = max(w, _text_width(text, 12) + 2 * _PAD)
    canvas = Image.new("RGB", (width, h + CAPTION_HEIGHT), _CAPTION_BG)
    canvas.paste(Image.fromarray(pixels), (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((_PAD, h + CAPTION_HEIGHT // 2), text, fill=_CAPTION_FG, font=_font(12), anchor="lm")
    return np.asarray(canvas)


def png_figure(figure: Figure, options: ExportOptions, run: RunExport | None = None) -> bytes:
    """One figure as a PNG: colour-mapped, optionally cropped to a channel, scaled, captioned.

    Args:
        figure: The figure.
        options: The colour map, scale, caption and channel (see ``figure_pixels``).
        run: The figure's run, for redrawing an overlay in another colour map.

    Returns:
        PNG bytes (RGB).
    """
    pixels = scale_nearest(figure_pixels(figure, options, run), options.scale)
    if options.caption:
        channel = options.channel
        noun = "filter" if figure.kind == "filters" else "channel"
        text = figure.caption() + (f" · {noun} {channel}" if channel is not None and figure.layout else "")
        pixels = add_caption(pixels, text)
    return encode_png(pixels)


def _stamp_strip(width: int, text: str, bg: int, fg: int) -> np.ndarray:
    """A ``[STAMP_HEIGHT, width]`` palette-index strip with ``text`` drawn without anti-aliasing."""
    strip = Image.new("L", (width, STAMP_HEIGHT), bg)
    draw = ImageDraw.Draw(strip)
    draw.fontmode = "1"
    draw.text((_PAD, STAMP_HEIGHT // 2), text, fill=fg, font=_font(12), anchor="lm")
    return np.asarray(strip)


def gif_animation(
    frames: Sequence[Figure], options: ExportOptions, run: RunExport | None = None, *, frame_ms: int = GIF_FRAME_MS
) -> bytes:
    """An animated GIF of one image across epochs, ``epoch N`` stamped in a strip above each frame.

    Grayscale sources (activation grids, heatmaps) are written with the colour map's own 256-entry
    palette, so every pixel below the strip equals ``apply_colormap(grid, colormap)`` exactly. RGB
    sources (filter patterns, overlays) are quantised to 256 colours per frame, without dithering.

    Args:
        frames: The same image (same ``series_key``) at several epochs, in epoch order.
        options: The colour map, scale and channel (see ``figure_pixels``).
        run: The frames' run, for redrawing overlays in another colour map.
        frame_ms: Display time of each frame.

    Returns:
        GIF bytes, one frame per figure, looping forever.

    Raises:
        ValueError: ``frames`` is empty or the frames differ in size.
    """
    if not frames:
        raise ValueError("gif_animation needs at least one frame.")
    channel, scale = options.channel, options.scale
    labels = [f"epoch {f.epoch}" for f in frames]
    text_w = max(_text_width(t, 12) for t in labels) + 2 * _PAD
    images: list[Image.Image] = []
    size: tuple[int, ...] | None = None
    for i, fig in enumerate(frames):
        raw = decode_png(fig.png)
        grayscale = raw.ndim == 2 and fig.role != "overlay"
        if grayscale:
            src = (
                raw
                if channel is None or fig.layout is None
                else crop_tile(raw, fig.layout, tile_for_channel(fig, channel))
            )
            src = scale_nearest(np.ascontiguousarray(src), scale)
        else:
            src = scale_nearest(figure_pixels(fig, options, run), scale)
        if size is None:
            size = src.shape[:2]
        elif src.shape[:2] != size:
            raise ValueError(
                f"GIF frames differ in size: epoch {frames[0].epoch} is {size}, epoch {fig.epoch} is {src.shape[:2]}."
            )
        h, w = src.shape[:2]
        width = max(w, text_w)
        if grayscale:
            lut = colormap_lut(options.colormap or DEFAULT_COLORMAP)
            index = np.zeros((STAMP_HEIGHT + h, width), dtype=np.uint8)
            index[:STAMP_HEIGHT] = _stamp_strip(width, labels[i], 0, 255)
            index[STAMP_HEIGHT:, :w] = src
            frame = Image.frombytes("P", (width, STAMP_HEIGHT + h), index.tobytes())
            frame.putpalette(lut.reshape(-1).tolist())
        else:
            rgb = np.zeros((STAMP_HEIGHT + h, width, 3), dtype=np.uint8)
            strip = _stamp_strip(width, labels[i], 0, 255)
            rgb[:STAMP_HEIGHT] = strip[..., None]
            rgb[STAMP_HEIGHT:, :w] = src
            frame = Image.fromarray(rgb).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        images.append(frame)
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=frame_ms,
        loop=0,
        disposal=1,
        optimize=False,
    )
    return buf.getvalue()
