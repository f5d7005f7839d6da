"""Django's PostgreSQL ``DatabaseWrapper`` with credentials read from the store for every new
connection (see :mod:`helium_secrets.integrations.django.db`)."""

from __future__ import annotations

from django.db.backends.postgresql import base

from helium_secrets.integrations.django.db import RotatingCredentialsMixin

__all__ = ["DatabaseWrapper"]


class DatabaseWrapper(RotatingCredentialsMixin, base.DatabaseWrapper):  # type: ignore[misc]
    """Django's PostgreSQL wrapper, following the rotation of its credentials."""
