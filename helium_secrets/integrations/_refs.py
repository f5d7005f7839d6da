"""What the framework integrations share: a reference to a secret (or one JSON field of it).

Framework-free: the pydantic-settings, Django and Flask integrations all build on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helium_secrets._store import SecretStore
from helium_secrets._values import Secret, json_field

__all__ = ["SecretRef"]


@dataclass(frozen=True, slots=True)
class SecretRef:
    """The secret ``name``, or the part of its JSON document at ``field`` (a dotted path).

    :param name: the secret's portable name.
    :param field: a dotted path into the secret's JSON value (``"password"``, ``"db.port"``),
        or ``None`` for the whole value as text.
    """

    name: str
    field: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"the secret name must be a non-empty str, not {self.name!r}")
        if self.field is not None and (not isinstance(self.field, str) or not self.field):
            raise TypeError(f"field must be a non-empty str or None, not {self.field!r}")

    def select(self, secret: Secret, store: SecretStore) -> Any:
        """The referenced part of ``secret``: its text, or the JSON node at :attr:`field`.

        :raises InvalidArgumentError: the value is not JSON or lacks the field (naming the
            field, never the value).
        """
        if self.field is None:
            return secret.value.reveal()
        return json_field(secret, self.field, backend=store.backend.name)

    def read(self, store: SecretStore) -> tuple[Any, str]:
        """The referenced value and the version it came from, through the store's cache."""
        secret = store.get(self.name)
        return self.select(secret, store), secret.version

    def __str__(self) -> str:
        return self.name if self.field is None else f"{self.name}#{self.field}"
