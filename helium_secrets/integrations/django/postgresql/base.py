"""Django's PostgreSQL ``DatabaseWrapper`` with credentials read from the store for every new
connection (see :mod:`helium_secrets.integrations.django.db`)."""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, client

from helium_secrets.integrations.django.db import RotatingCredentialsMixin, resolve

__all__ = ["DatabaseClient", "DatabaseWrapper"]


class DatabaseClient(client.DatabaseClient):  # type: ignore[misc]
    """``manage.py dbshell`` with the current credentials (``PGPASSWORD`` for psql)."""

    @classmethod
    def settings_to_cmd_args_env(cls, settings_dict: dict[str, Any],
                                 parameters: list[str]) -> Any:
        return super().settings_to_cmd_args_env(resolve(settings_dict)[0], parameters)


class DatabaseWrapper(RotatingCredentialsMixin, base.DatabaseWrapper):  # type: ignore[misc]
    """Django's PostgreSQL wrapper, following the rotation of its credentials."""

    client_class = DatabaseClient
