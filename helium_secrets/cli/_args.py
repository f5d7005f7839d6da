"""Argument types shared by the command families: durations and signal names."""

from __future__ import annotations

import argparse
import re
import signal

__all__ = ["duration", "signal_number"]

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")


def duration(text: str) -> float:
    """``90d``, ``12h``, ``30m``, ``45s`` or plain seconds, as seconds (an argparse type)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: a number with an optional unit s, m, h, d or w "
            "(90d, 12h, 30s)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def signal_number(text: str) -> signal.Signals:
    """``TERM``, ``SIGTERM`` or ``15`` as a signal (an argparse type)."""
    name = text.strip().upper()
    try:
        return signal.Signals(int(name)) if name.isdigit() else signal.Signals[
            name if name.startswith("SIG") else "SIG" + name]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a signal name or number") from None
