"""The one Retry-After parser that every backend uses (helium_secrets.backends._hints)."""

from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helium_secrets.backends._hints import retry_after, retry_after_from_headers

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def now() -> datetime:
    return NOW


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0),
    ("0", 0.0),
    ("0.05", 0.05),
    (" 7 ", 7.0),
    ("Wed, 02 Jan 2030 03:04:35 GMT", 30.0),  # an HTTP-date, 30 s from now
    ("Wednesday, 02-Jan-30 03:05:05 GMT", 60.0),  # the obsolete RFC 850 form
    ("Wed, 02 Jan 2030 03:04:35 -0000", 30.0),
    ("Tue, 01 Jan 2030 00:00:00 GMT", 0.0),  # a date already past: retry now
])
def test_seconds_or_an_http_date(value: str, seconds: float) -> None:
    assert retry_after(value, now=now) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "-0.5", "1e3", "inf", "nan", "5 s",
                                   "0x10", "Wed, 99 Foo 2030 03:04:35 GMT", "\u0661\u0662"])
def test_garbage_or_negative_is_no_hint(value: str | None) -> None:
    assert retry_after(value, now=now) is None


def test_headers_any_case_most_precise_first() -> None:
    assert retry_after_from_headers({"Retry-After": "3"}) == 3.0
    assert retry_after_from_headers({"retry-after": "3"}) == 3.0  # botocore lowers names
    assert retry_after_from_headers({"Retry-After": "3", "retry-after-ms": "1500"}) == 1.5
    assert retry_after_from_headers({"x-ms-retry-after-ms": "250"}) == 0.25
    # A bad precise header does not hide a good plain one.
    assert retry_after_from_headers({"retry-after-ms": "x", "Retry-After": "2"}) == 2.0
    assert retry_after_from_headers({"Retry-After": "later"}) is None
    assert retry_after_from_headers({}) is None
    assert retry_after_from_headers(None) is None


def test_no_backend_parses_retry_after_itself() -> None:
    # One parser: a backend module that parses numbers or dates out of headers has a copy.
    backends = Path(__file__).resolve().parents[2] / "helium_secrets" / "backends"
    for module in sorted(backends.rglob("*.py")):
        if module.name == "_hints.py":
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree)
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
        assert "email.utils" not in imported, module.name
        if any(isinstance(node, ast.Constant) and isinstance(node.value, str)
               and node.value.lower() == "retry-after" for node in ast.walk(tree)):
            pytest.fail(f"{module.name} reads the Retry-After header itself")
