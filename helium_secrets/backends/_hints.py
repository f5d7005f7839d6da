"""Throttling hints from HTTP answers, parsed once for every backend.

``Retry-After`` is either a number of seconds or an HTTP-date (RFC 9110, section 10.2.3); Azure
also sends ``retry-after-ms`` / ``x-ms-retry-after-ms``, in milliseconds. Anything else (garbage,
a negative number, infinity) is no hint at all: ``None``, and the retry layer's own backoff
applies.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

__all__ = ["retry_after", "retry_after_from_headers"]

_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII digits only (\d matches any script's)
#: Header names, lower case, most precise first, with the seconds in one unit of each.
_HEADERS = (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0))


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def retry_after(
    value: str | None, *, scale: float = 1.0, now: Callable[[], datetime] = _utcnow
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` when it says nothing usable.

    :param value: the header's value: ``"120"``, ``"0.5"`` or ``"Wed, 21 Oct 2015 07:28:00 GMT"``.
    :param scale: seconds per unit of a number (``0.001`` for the ``-ms`` headers).
    :param now: the current time, to turn an HTTP-date into a delay (a date already past is 0).
    """
    if not value:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = float(text) * scale
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now()).total_seconds())


def retry_after_from_headers(
    headers: Mapping[str, str] | None, *, now: Callable[[], datetime] = _utcnow
) -> float | None:
    """The first usable hint among a response's headers (any letter case), or ``None``."""
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    for header, scale in _HEADERS:
        hint = retry_after(lowered.get(header), scale=scale, now=now)
        if hint is not None:
            return hint
    return None
