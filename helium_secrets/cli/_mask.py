"""A streaming masker for byte streams: a child's stdout and stderr under ``run --mask``.

Log records are redacted elsewhere (:mod:`helium_secrets.redaction`); this one works on raw
bytes arriving in chunks of any size, so a value split across two reads is still masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "MIN_MASK_LENGTH", "StreamMasker"]

#: What a masked value is replaced with.
MASK = b"<concealed by helium-secrets>"

#: Values shorter than this many bytes are not masked: masking "true" or "5432" everywhere
#: would mangle the output and hide nothing worth hiding.
MIN_MASK_LENGTH = 6


class StreamMasker:
    """Replace every occurrence of the given values in a stream fed chunk by chunk.

    Longer values are matched first, so a value that contains another is masked whole. Bytes
    that may be the start of a value are held back until the next chunk (or :meth:`flush`)
    decides; everything else is passed on at once, so line-by-line output is not delayed.

    :param values: the values to mask (those shorter than :data:`MIN_MASK_LENGTH` are ignored).
    """

    def __init__(self, values: Iterable[bytes], *, min_length: int = MIN_MASK_LENGTH) -> None:
        kept = sorted({v for v in values if len(v) >= min_length}, key=len, reverse=True)
        self._values = kept
        self._longest = len(kept[0]) if kept else 0
        self._pattern = re.compile(b"|".join(re.escape(v) for v in kept)) if kept else None
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk; return what can be written now."""
        if self._pattern is None:
            return chunk
        data = self._held + chunk
        # A match starting before `safe` has the longest value's length of data after it, so
        # no later chunk can change it; one starting later must wait.
        safe = len(data) - (self._longest - 1)
        out: list[bytes] = []
        pos = 0
        for match in self._pattern.finditer(data):
            if match.start() >= safe:
                break
            out += (data[pos:match.start()], MASK)
            pos = match.end()
        cut = max(pos, safe)
        # Of the rest, hold back only from the first byte where a value begins or could begin.
        while cut < len(data) and not self._pattern.match(data, cut) and not any(
                v.startswith(data[cut:]) for v in self._values):
            cut += 1
        out.append(data[pos:cut])
        self._held = data[cut:]
        return b"".join(out)

    def flush(self) -> bytes:
        """The end of the stream: return what was held back, masked."""
        held, self._held = self._held, b""
        return self._pattern.sub(MASK, held) if self._pattern is not None else held
