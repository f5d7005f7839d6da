"""``dotenv://path/to/.env``: read-only secrets from a ``.env`` file (the ``dotenv`` extra).

The file is parsed by python-dotenv itself (:func:`dotenv.dotenv_values`), so it reads what
python-dotenv reads: quoting, ``export``, comments, multi-line values. Names map to keys by the
rule of ``env://`` (docs/backends/env.md), with an optional prefix::

    dotenv://.env?prefix=APP_ :  "db-password"    -> APP_DB_PASSWORD
                                 "billing/api-key" -> APP_BILLING__API_KEY

The file is read afresh at every call (the store caches), so an edited file is seen without a
restart. A missing file holds no secrets: reads are not found, saying which file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import SplitResult, unquote

from dotenv import dotenv_values

from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets.backends._base import Classified
from helium_secrets.backends.environ import CAPABILITIES, VariableBackend, prefix_problem
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
    """

    scheme: ClassVar[str] = "dotenv"

    path: str = option(".env", url="path")
    prefix: str = option("", query=True, check=prefix_problem)
    interpolate: bool = option(False, query=True)
    encoding: str = option("utf-8", query=True)


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
