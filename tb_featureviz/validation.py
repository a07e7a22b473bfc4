"""Argument checks shared by every layer of the package, with one exception policy.

The policy:

- a value of the wrong *type* raises :class:`ArgumentTypeError`, which is both a ``TypeError`` and a
  ``ValueError`` (as NumPy's ``AxisError`` is both a ``ValueError`` and an ``IndexError``), so callers
  that catch either keep working;
- a value of the right type but outside its range raises ``ValueError``;
- every message names the argument and the value received, in Keras' words:
  ``"steps must be a positive int. Received: steps='3'"``.

``bool`` is never accepted as a number. NumPy integers and floats are (they register with
:mod:`numbers`), so this module needs neither NumPy nor TensorFlow and the plugin side can use it.

Example:
    >>> positive_int("steps", 3)
    3
    >>> positive_int("steps", "3")
    Traceback (most recent call last):
    ...
    tb_featureviz.validation.ArgumentTypeError: steps must be a positive int. Received: steps='3'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import TypeGuard, TypeVar

__all__ = [
    "ArgumentTypeError",
    "int_at_least",
    "integer",
    "non_negative_int",
    "one_of",
    "optional_positive_int",
    "positive_float",
    "positive_int",
]

T = TypeVar("T")


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Both a ``TypeError`` and a ``ValueError``."""


def _is_int(value: object) -> TypeGuard[numbers.Integral]:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(name: str, value: object) -> int:
    """Returns ``value`` as an ``int`` (any sign, e.g. a seed).

    Raises:
        ArgumentTypeError: ``value`` is not an integer (``bool`` included).
    """
    if not _is_int(value):
        raise ArgumentTypeError(f"{name} must be an int. Received: {name}={value!r}")
    return int(value)


def int_at_least(name: str, value: object, minimum: int) -> int:
    """Returns ``value`` as an ``int`` >= ``minimum``.

    Raises:
        ArgumentTypeError: ``value`` is not an integer (``bool`` included).
        ValueError: ``value`` < ``minimum``.
    """
    message = f"{name} must be an int >= {minimum}. Received: {name}={value!r}"
    if not _is_int(value):
        raise ArgumentTypeError(message)
    if value < minimum:
        raise ValueError(message)
    return int(value)


def positive_int(name: str, value: object) -> int:
    """Returns ``value`` as an ``int`` >= 1.

    Raises:
        ArgumentTypeError: ``value`` is not an integer (``bool`` included).
        ValueError: ``value`` < 1.
    """
    message = f"{name} must be a positive int. Received: {name}={value!r}"
    if not _is_int(value):
        raise ArgumentTypeError(message)
    if value < 1:
        raise ValueError(message)
    return int(value)


def optional_positive_int(name: str, value: object) -> int | None:
    """Like :func:`positive_int`, but ``None`` passes through (meaning "no limit" or "the default")."""
    if value is None:
        return None
    message = f"{name} must be a positive int or None. Received: {name}={value!r}"
    if not _is_int(value):
        raise ArgumentTypeError(message)
    if value < 1:
        raise ValueError(message)
    return int(value)


def non_negative_int(name: str, value: object) -> int:
    """Returns ``value`` as an ``int`` >= 0 (see :func:`int_at_least`)."""
    return int_at_least(name, value, 0)


def positive_float(name: str, value: object) -> float:
    """Returns ``value`` as a finite ``float`` > 0.

    Raises:
        ArgumentTypeError: ``value`` is not a real number (``bool`` included).
        ValueError: ``value`` is not > 0, or is NaN or infinite.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be a number. Received: {name}={value!r}")
    number = float(value)
    if not number > 0 or math.isinf(number):
        raise ValueError(f"{name} must be a positive, finite number. Received: {name}={value!r}")
    return number


def one_of(name: str, value: T, choices: Collection[T]) -> T:
    """Returns ``value`` if it is one of ``choices``.

    Raises:
        ValueError: it is not; the message lists the choices.
    """
    try:
        ok = value in choices
    except TypeError:  # an unhashable value asked of a set
        ok = False
    if not ok:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}. Received: {name}={value!r}")
    return value
