"""Export errors.

Argument and lookup errors are TensorBoard ``PublicError``s (so a plugin route turns them into 400/404
with the message) and also ``ValueError``/``LookupError`` (so Python callers can catch the usual types).
"""

from __future__ import annotations

from tensorboard import errors


class _Detailed(Exception):
    """Keeps the message without TensorBoard's ``Invalid argument:``/``Not found:`` prefix.

    Attributes:
        details: The message as raised.
    """

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self.details = details


class ExportArgumentError(_Detailed, errors.InvalidArgumentError, ValueError):
    """A bad export argument (format, kinds, epochs, colour map, scale, channel...); the message names it."""


class ExportNotFoundError(_Detailed, errors.NotFoundError, LookupError):
    """An unknown run, epoch or layer; the message lists what exists."""


class ExportOutputError(OSError):
    """The output path cannot be written (missing permission, a file where a directory must be, ...)."""


def public_message(error: BaseException) -> str:
    """A one-line message for ``error``, without TensorBoard's ``Not found:``-style prefixes."""
    details = getattr(error, "details", None)
    text = str(details) if isinstance(details, str) else str(error)
    for prefix in ("Invalid argument: ", "Not found: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return " ".join(text.split()) or type(error).__name__
