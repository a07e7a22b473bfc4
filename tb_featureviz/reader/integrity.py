"""Cheap checks of the bytes a data provider hands back, and bounded messages about what a request named.

The Rust data server serves a record even when a flipped byte broke its checksum (the Python loader drops
it), so the reader checks every blob before serving or exporting it: a PNG must decode (:func:`png_problem`),
a record must be a JSON object (:func:`record_problem`). Both use the standard library only (``zlib``,
``struct``, ``json``): no Pillow, no TensorFlow.

Error messages name what a request asked for and what exists, but never more than a bounded sample
(:func:`clip`, :func:`sample`), so that a long query cannot make a long answer.

Example:
    >>> png_problem(b"not a png")
    'not a PNG (bad signature)'
    >>> clip("x" * 500, 8)
    "'xxxxxxxx'… (500 characters)"
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable

from tensorboard import errors

__all__ = [
    "MAX_ECHO",
    "MAX_LISTED",
    "DamagedBlobError",
    "clip",
    "png_content_type",
    "png_problem",
    "record_problem",
    "sample",
]

MAX_ECHO = 100
"""Characters of a request's value repeated in an error message."""

MAX_LISTED = 20
"""Items of a list (runs, tags, steps) named in full in an error message; longer lists are sampled."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_MAX_PIXELS = 1 << 28
"""Largest image (in pixels) the check decompresses; the writer's grids are far smaller."""


class DamagedBlobError(errors.NotFoundError):
    """A blob whose bytes are damaged (an image that does not decode, a record that is not JSON): a 404.

    The plugin answers it with ``"damaged": true`` in the JSON error; an export leaves the blob out and
    says so.

    Attributes:
        key: The blob key.
        reason: What is wrong (``"bad CRC in 'IDAT' chunk"``...).
        what: ``"image"`` or ``"record"``.
    """

    def __init__(self, key: str, reason: str, what: str = "image") -> None:
        super().__init__(f"The {what} {clip(key, 60)} is damaged: {reason}. Every other blob is still readable.")
        self.key = key
        self.reason = reason
        self.what = what


def clip(value: object, limit: int = MAX_ECHO) -> str:
    """``repr`` of ``value`` as text, cut to ``limit`` characters with the full length named.

    Example:
        >>> clip("exp1")
        "'exp1'"
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def sample(items: Iterable[object], limit: int = MAX_LISTED) -> str:
    """A list for an error message: in full (as ``repr``) up to ``limit`` items, else a sample.

    Strings are clipped (:func:`clip`); a long list shows its first ``limit // 2`` and last 5 items and
    the count: ``[0, 1, ..., 98, 99] (100 in all)``.

    Example:
        >>> sample(range(3))
        '[0, 1, 2]'
    """
    values = list(items)

    def one(v: object) -> str:
        return clip(v) if isinstance(v, str) else repr(v)

    if len(values) <= limit:
        return "[" + ", ".join(one(v) for v in values) + "]"
    head = ", ".join(one(v) for v in values[: limit // 2])
    tail = ", ".join(one(v) for v in values[-5:])
    return f"[{head}, ..., {tail}] ({len(values)} in all)"


def _raw_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes of the filtered scanlines of a ``width`` x ``height`` image (1 filter byte per line)."""

    def lines(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits_per_pixel + 7) // 8)

    if not interlaced:
        return lines(width, height)
    total = 0  # Adam7: (x0, y0, dx, dy) of the seven passes
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)):
        total += lines((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy)
    return total + lines(width, height // 2)  # pass 7: every odd row, full width


def png_content_type(data: bytes) -> str:
    """``image/png`` for bytes with the PNG signature, else ``application/octet-stream``."""
    return "image/png" if data[:8] == _PNG_MAGIC else "application/octet-stream"


def png_problem(data: bytes) -> str | None:
    """Why ``data`` is not a PNG that decodes, or ``None`` when it is one.

    Checks the signature, every chunk's length and CRC up to ``IEND``, the ``IHDR`` fields, and that the
    ``IDAT`` data inflate to exactly the scanlines ``IHDR`` announces, each with a valid filter type:
    what a browser needs to draw the image. Costs one CRC pass and one inflate (a few milliseconds for a
    large grid).

    Args:
        data: The bytes of a blob.

    Returns:
        A short reason (``"bad CRC in IDAT chunk"``, ``"truncated"``...), or ``None``.
    """
    data = bytes(data)
    if data[:8] != _PNG_MAGIC:
        return "not a PNG (bad signature)"
    pos, size = 8, len(data)
    header: tuple[int, int, int, int, int] | None = None
    inflater = zlib.decompressobj()
    raw = bytearray()
    expected = 0
    while True:
        if pos + 12 > size:
            return "truncated (no IEND chunk)"
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > size:
            return f"truncated {ctype.decode('latin-1')!r} chunk"
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(ctype + body) != crc:
            return f"bad CRC in {ctype.decode('latin-1')!r} chunk"
        if header is None:
            if ctype != b"IHDR" or length != 13:
                return "the first chunk is not IHDR"
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if not (width > 0 and height > 0 and width * height <= _MAX_PIXELS):
                return f"unsupported size {width}x{height}"
            if depth not in _BIT_DEPTHS.get(colour, ()) or interlace > 1:
                return f"bad IHDR (bit depth {depth}, colour type {colour}, interlace {interlace})"
            header = (width, height, depth, colour, interlace)
            expected = _raw_size(width, height, depth * _CHANNELS[colour], interlace == 1)
        elif ctype == b"IDAT":
            try:
                raw += inflater.decompress(body, expected + 1 - len(raw))
            except zlib.error as e:
                return f"IDAT does not inflate ({e})"
            if len(raw) > expected:
                return "IDAT holds more data than IHDR announces"
        elif ctype == b"IEND":
            break
        pos = end
    try:
        raw += inflater.flush()
    except zlib.error as e:
        return f"IDAT does not inflate ({e})"
    if len(raw) != expected or not inflater.eof:
        return f"IDAT inflates to {len(raw)} bytes, IHDR announces {expected}"
    width, height, depth, colour, interlace = header
    if not interlace:
        stride = 1 + (width * depth * _CHANNELS[colour] + 7) // 8
        if max(raw[::stride]) > 4:
            return "bad scanline filter type"
    return None


def record_problem(data: bytes) -> str | None:
    """Why ``data`` is not a featureviz record (a UTF-8 JSON object), or ``None`` when it is one."""
    try:
        value = json.loads(bytes(data).decode("utf-8"))
    except Exception:  # UnicodeDecodeError, JSONDecodeError, RecursionError on deep nesting
        return "not UTF-8 JSON"
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    return None
