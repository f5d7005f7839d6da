"""The KV value mapping and the pieces of KV answers the backend reads."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from helium_secrets._values import JSONText
from helium_secrets.errors import (
    InvalidArgumentError,
)

__all__ = ["cas_failure", "check_custom_metadata", "custom_metadata", "decode", "encode",
           "parse_duration", "parse_time", "version_number", "version_state"]

def parse_time(text: object) -> datetime | None:
    """Vault's RFC 3339 times carry nanoseconds and ``Z``, which Python 3.10 cannot parse."""
    if not isinstance(text, str) or not text:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    parsed = datetime.fromisoformat(f"{base}.{micros}{'+00:00' if zone == 'Z' else zone}")
    if parsed.year < 1970:  # Vault's zero time means "never"
        return None
    return parsed.astimezone(timezone.utc)


def encode(value: str | bytes) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"value": base64.b64encode(value).decode("ascii"), "encoding": "base64"}
    if isinstance(value, JSONText):
        # put_json: a JSON object is the KV map itself, where it reads back as the same text
        # (not {"value": "x"}, which reads as the plain "x").
        document = json.loads(value)
        if isinstance(document, dict) and document and decode(document) == value:
            return document
    return {"value": str(value)}


def decode(data: Mapping[str, Any]) -> str | bytes:
    value = data.get("value")
    if isinstance(value, str):
        if len(data) == 1:
            return value
        if len(data) == 2 and data.get("encoding") == "base64":
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                pass  # not ours: fall through and present the map as JSON
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def version_number(version: str) -> int | None:
    return int(version) if version.isascii() and version.isdigit() and version != "0" else None


def version_state(info: Mapping[str, Any]) -> str:
    if info.get("destroyed"):
        return "destroyed"
    if info.get("deletion_time"):
        return "deleted"
    return "enabled"


def custom_metadata(settings: Mapping[str, Any]) -> dict[str, str]:
    """The custom metadata in a KV v2 metadata answer."""
    return dict(settings.get("custom_metadata") or {})


def cas_failure(expected: int) -> str:
    what = "the secret already exists" if expected == 0 else "the current version changed"
    return f"check-and-set failed: {what}"


def check_custom_metadata(metadata: Mapping[str, str]) -> None:
    """Refuse what Vault's custom metadata rules refuse beyond the declared size limits (which
    the store checks): an empty or unprintable key or value. Names the key, never a value."""
    for key, value in metadata.items():
        if not key or not key.isprintable():
            raise InvalidArgumentError(
                f"custom metadata key {key!r} is empty or has unprintable characters, which "
                "Vault refuses")
        if not value or not value.isprintable():
            raise InvalidArgumentError(
                f"the custom metadata value of {key!r} is empty or has unprintable characters "
                "(newlines, control characters), which Vault refuses")




_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: object) -> timedelta | None:
    """A Go duration as Vault writes it (``"0s"``, ``"768h0m0s"``); ``None`` for zero or
    anything else."""
    if not isinstance(text, str) or not text:
        return None
    parts = _GO_DURATION.findall(text)
    if "".join(n + u for n, u in parts) != text:
        return None
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return timedelta(seconds=seconds) if seconds > 0 else None
