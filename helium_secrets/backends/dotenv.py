"""``dotenv://path/to/.env``: secrets from a ``.env`` file (the ``dotenv`` extra); read-only
unless ``writable``.

The file is parsed by python-dotenv itself (:func:`dotenv.dotenv_values`), so it reads what
python-dotenv reads: quoting, ``export``, comments, multi-line values. Names map to keys by the
rule of ``env://`` (docs/backends/env.md), with an optional prefix::

    dotenv://.env?prefix=APP_ :  "db-password"    -> APP_DB_PASSWORD
                                 "billing/api-key" -> APP_BILLING__API_KEY

The file is read afresh at every call (the store caches), so an edited file is seen without a
restart. A missing file holds no secrets: reads are not found, saying which file. With
``writable``, a put or delete rewrites only the key's own lines (comments, order and the other
lines stay as they were) and replaces the file atomically, under a lock file.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import SplitResult, unquote

from dotenv import dotenv_values
from dotenv.parser import parse_stream
from filelock import FileLock

from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import Classified
from helium_secrets.backends.environ import CAPABILITIES, VERSION, VariableBackend, prefix_problem
from helium_secrets.backends.localfile.envelope import atomic_write
from helium_secrets.errors import ErrorCode, InvalidArgumentError, SecretNotFoundError

__all__ = ["DotenvBackend", "DotenvOptions"]


@dataclass(frozen=True, kw_only=True)
class DotenvOptions(Options):
    """The options of :class:`DotenvBackend` (the table in docs/backends/dotenv.md).

    :param path: the ``.env`` file (relative paths from the working directory).
    :param prefix: the prefix of every key (``"APP_"``); letters, digits and ``_``.
    :param interpolate: expand ``${VAR}`` in values, as python-dotenv can (from the file and
        the process environment); off by default, so a value is what the file says.
    :param encoding: the file's encoding.
    :param writable: ``put`` and ``delete`` rewrite the file (off: the store is read-only).
    """

    scheme: ClassVar[str] = "dotenv"

    path: str = option(".env", url="path")
    prefix: str = option("", query=True, check=prefix_problem)
    interpolate: bool = option(False, query=True)
    encoding: str = option("utf-8", query=True)
    writable: bool = option(False, query=True)


class DotenvBackend(VariableBackend):
    """Read-only secrets from a ``.env`` file.

    :param options: a ready :class:`DotenvOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "dotenv"

    def __init__(self, *, options: DotenvOptions | None = None, **keywords: Any) -> None:
        self._options = build(DotenvOptions, options, keywords)
        self.path = self._options.path
        self.prefix = self._options.prefix
        self.capabilities = CAPABILITIES
        if self._options.writable:
            # A retried put writes the same line again: the same file, nothing duplicated.
            self.capabilities = dataclasses.replace(CAPABILITIES, read_only=False,
                                                    idempotent_put=True, max_metadata_keys=0)
        self._lock = threading.Lock()  # and the lock file, for other processes

    def __repr__(self) -> str:
        return f"DotenvBackend(path={self.path!r}, prefix={self.prefix!r})"

    @property
    def options(self) -> DotenvOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> DotenvBackend:
        """Build from ``dotenv://path/to/.env`` (relative), ``dotenv:///abs/path/.env`` or
        ``dotenv://`` (``./.env``), with ``?prefix=``, ``?interpolate=``, ``?encoding=``."""
        path = unquote(url.netloc + url.path)
        derived = {"path": path} if path else {}
        return cls(options=parse(DotenvOptions, keywords=keywords, query=query_of(url),
                                 url=derived))

    def where(self, variable: str) -> str:
        return f"key {variable} in {self.path}"

    def variables(self) -> Mapping[str, str]:
        if not os.path.isfile(self.path):
            return {}  # no file, no secrets: a read says which file it looked in
        try:
            values = dotenv_values(self.path, interpolate=self._options.interpolate,
                                   encoding=self._options.encoding)
        except UnicodeDecodeError:
            values = None  # its .object holds the file's bytes: raised below, never chained
        if values is None:
            raise InvalidArgumentError(f"{self.path} is not valid {self._options.encoding}")
        # A key without "=" has no value (python-dotenv's None): it is not set.
        return {key: value for key, value in values.items() if value is not None}

    def _missing(self, name: str) -> SecretNotFoundError:
        why = "" if os.path.isfile(self.path) else ": the file does not exist"
        return SecretNotFoundError(f"{self.where(self.variable(name))} is not set{why}")

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, PermissionError):
            return Classified(ErrorCode.PERMISSION_DENIED, f"{self.path} is not readable")
        if isinstance(exc, OSError):
            return Classified(ErrorCode.UNAVAILABLE, f"{self.path} could not be read "
                              f"({type(exc).__name__})", transient=False)
        return None

    # -- writes (with writable) ------------------------------------------------------------

    def put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> VersionInfo:
        if not self._options.writable:
            self._refuse(name)
        if not isinstance(value, str):
            raise InvalidArgumentError(".env files hold text only")
        if self._options.interpolate and "${" in value:
            raise InvalidArgumentError("with interpolate, a value written can't hold '${' "
                                       "(it would read back expanded)")
        self._rewrite(name, f"{self.variable(name)}={_quoted(value)}\n")
        return VersionInfo(version=VERSION)

    def delete(self, name: str, *, purge: bool = False) -> None:
        if not self._options.writable:
            self._refuse(name)
        if not self._rewrite(name, None):
            raise self._missing(name)

    def _rewrite(self, name: str, line: str | None) -> bool:
        """Replace the key's binding with ``line`` (``None``: remove it), keeping every other
        line as it is; return whether the key was there."""
        key = self.variable(name)
        path = Path(self.path)
        with self._lock, FileLock(f"{self.path}.lock"):
            text = ""
            if path.is_file():  # newline="": every other line is kept byte for byte
                with open(path, encoding=self._options.encoding, newline="") as f:
                    text = f.read()
            kept: list[str] = []
            found = False
            for binding in parse_stream(io.StringIO(text)):
                original = binding.original.string
                if binding.key != key or (line is None and binding.value is None):
                    kept.append(original)  # (a key without a value is not set: not deleted)
                    continue
                if line is not None and not found:  # in its place; later duplicates go
                    export = "export " if original.lstrip().startswith("export ") else ""
                    kept.append(export + line)
                found = True
            if line is not None and not found:
                if kept and not kept[-1].endswith("\n"):
                    kept.append("\n")
                kept.append(line)
            if found or line is not None:
                atomic_write(path, "".join(kept).encode(self._options.encoding))
        return found


def _quoted(value: str) -> str:
    """``value`` as a double-quoted .env value, which python-dotenv reads back exactly."""
    # "\r" escaped: python-dotenv reads the file with universal newlines.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    return f'"{escaped}"'
