"""``env://``: read-only secrets from environment variables.

A portable name maps to a variable by one injective rule (docs/backends/env.md)::

    prefix + name.upper() with "/" -> "__" and "-" -> "_"
    env://?prefix=APP_ :  "db-password"    -> APP_DB_PASSWORD
                          "billing/api-key" -> APP_BILLING__API_KEY

Names are restricted to lower-case letters, digits and single inner hyphens per segment, so the
rule can be read backwards: :meth:`EnvironBackend.list_names` returns the one name that maps to
each variable, and two names never read the same variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn
from urllib.parse import SplitResult

from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import BackendBase, Capabilities, NameRules, RawSecret
from helium_secrets.errors import ReadOnlyError, SecretNotFoundError, VersionNotFoundError

__all__ = ["CAPABILITIES", "NAME_RULES", "VERSION", "EnvironBackend", "EnvironOptions",
           "VariableBackend", "prefix_problem"]

#: The one version every variable has: the environment keeps no history.
VERSION = "env"

_SEGMENT = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_VARIABLE_BODY = re.compile(r"[A-Z0-9]+(?:_[A-Z0-9]+)*(?:__[A-Z0-9]+(?:_[A-Z0-9]+)*)*")
_PREFIX = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*)?")

NAME_RULES = NameRules(
    max_length=512,
    segment_pattern=_SEGMENT,
    description=(
        "lower-case letters and digits, words joined by single hyphens (the name maps to an "
        "environment variable: upper-cased, '/' -> '__', '-' -> '_')"
    ),
)


def prefix_problem(prefix: str) -> str | None:
    if _PREFIX.fullmatch(prefix):
        return None
    return "letters, digits and '_', not starting with a digit"


@dataclass(frozen=True, kw_only=True)
class EnvironOptions(Options):
    """The options of :class:`EnvironBackend` (the table in docs/backends/env.md).

    :param prefix: prepended to every variable name (``"APP_"``); letters, digits and ``_``.
    :param environ: the mapping to read (default :data:`os.environ`, read live at every call);
        tests pass a dict instead of changing the process environment.
    """

    scheme: ClassVar[str] = "env"

    prefix: str = option("", query=True, check=prefix_problem)
    environ: Mapping[str, str] | None = None


class VariableBackend(BackendBase):
    """Read-only secrets from a mapping of variables, by the name mapping above: what
    ``env://`` and ``dotenv://`` share. Subclasses say where the variables are
    (:meth:`variables`) and how to name one in a message (:meth:`where`).
    """

    prefix: str

    def variables(self) -> Mapping[str, str]:
        """The variables, read afresh."""
        raise NotImplementedError

    def where(self, variable: str) -> str:
        """``variable`` as messages name it."""
        return f"environment variable {variable}"

    # -- the name mapping ------------------------------------------------------------------

    def variable(self, name: str) -> str:
        """The variable that holds the portable ``name``."""
        return self.prefix + name.upper().replace("/", "__").replace("-", "_")

    def name_for(self, variable: str) -> str | None:
        """The portable name whose variable is ``variable``, or ``None`` if no name maps to it."""
        if not variable.startswith(self.prefix):
            return None
        body = variable[len(self.prefix):]
        if not _VARIABLE_BODY.fullmatch(body):
            return None
        name = body.lower().replace("__", "/").replace("_", "-")
        # A name longer than the rules allow could be listed but never read.
        return name if len(name) <= NAME_RULES.max_length else None

    # -- the protocol ----------------------------------------------------------------------

    def _missing(self, name: str) -> SecretNotFoundError:
        return SecretNotFoundError(f"{self.where(self.variable(name))} is not set")

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        # The value is read last: a failing call holds none in a local (error reporters).
        self.current_version(name)
        if (version is not None and version != VERSION) or label is not None:
            raise VersionNotFoundError(
                f"the {self.name} backend keeps one version, {VERSION!r}, and no labels"
            )
        value = self.variables().get(self.variable(name))
        if value is None:  # unset meanwhile
            raise self._missing(name)
        return RawSecret(name=name, value=value, version=VERSION)

    def current_version(self, name: str) -> str:
        if self.variable(name) not in self.variables():
            raise self._missing(name)
        return VERSION

    def list_names(self, prefix: str = "") -> Iterator[str]:
        names = (self.name_for(variable) for variable in list(self.variables()))
        return iter(sorted(n for n in names if n is not None and n.startswith(prefix)))

    def list_versions(self, name: str) -> list[VersionInfo]:
        self.current_version(name)
        return [VersionInfo(version=VERSION)]

    def _refuse(self, name: str) -> NoReturn:
        raise ReadOnlyError(
            f"the {self.name} backend is read-only: set the {self.where(self.variable(name))} "
            "instead"
        )

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
        self._refuse(name)

    def delete(self, name: str, *, purge: bool = False) -> None:
        self._refuse(name)

    def set_label(self, name: str, label: str, version: str | None) -> None:
        self._refuse(name)

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        self._refuse(name)

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        self._refuse(name)

    def discard(self, name: str, version: str) -> None:
        self._refuse(name)


#: What a read-only store of variables can do.
CAPABILITIES = Capabilities(
    binary=False,
    versions=False,
    labels=False,
    read_only=True,
    max_value_bytes=None,
    name_rules=NAME_RULES,
    version_probe=True,
)


class EnvironBackend(VariableBackend):
    """Read-only secrets from environment variables, under an optional prefix.

    :param options: a ready :class:`EnvironOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "env"

    def __init__(self, *, options: EnvironOptions | None = None, **keywords: Any) -> None:
        self._options = build(EnvironOptions, options, keywords)
        self.prefix = self._options.prefix
        #: The variables read; a live view of the process environment unless one was passed.
        environ = self._options.environ
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.capabilities = CAPABILITIES

    def __repr__(self) -> str:
        return f"EnvironBackend(prefix={self.prefix!r})"

    @property
    def options(self) -> EnvironOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> EnvironBackend:
        """Build from ``env://`` or ``env://?prefix=APP_``."""
        if url.netloc or url.path not in ("", "/"):
            raise ValueError("env:// URLs take no host or path; write env://?prefix=APP_")
        return cls(options=parse(EnvironOptions, keywords=keywords, query=query_of(url)))

    def variables(self) -> Mapping[str, str]:
        return self.environ
