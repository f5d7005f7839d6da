"""The Django app (``"helium_secrets.integrations.django"`` in ``INSTALLED_APPS``).

* ``manage.py check`` reads every secret the settings reference (and issues every lease) and
  reports the ones that cannot be read (``helium_secrets.E001``), naming the secret and the
  error, never a value.
* On start-up it watches the secrets the databases' credentials come from
  (:meth:`~helium_secrets.SecretStore.on_rotation`), so the store's poller notices a rotation
  even while the cached value is fresh; persistent connections opened with the old credentials
  are then closed at their next request boundary (see :mod:`.db`). Leases need no watch: the
  store's keeper replaces their credentials itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from helium_secrets._values import Secret
from helium_secrets.errors import HeliumError
from helium_secrets.integrations.django import LeaseSetting, Reference, SecretSetting
from helium_secrets.integrations.django.db import references

__all__ = ["HeliumSecretsConfig", "check_secrets", "setting_references"]

_log = logging.getLogger("helium_secrets.django")


def setting_references() -> Iterator[tuple[str, Reference]]:
    """Every :class:`SecretSetting` and :class:`LeaseSetting` in the settings, with where it
    is (``DATABASES.default.PASSWORD``)."""

    def walk(path: str, value: Any) -> Iterator[tuple[str, Reference]]:
        if isinstance(value, (SecretSetting, LeaseSetting)):
            yield path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(f"{path}.{key}", item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                yield from walk(f"{path}[{index}]", item)

    for key in dir(settings):
        if key.isupper():
            yield from walk(key, getattr(settings, key))


def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check: each referenced secret (and field) is readable."""
    problems: list[checks.CheckMessage] = []
    for path, ref in setting_references():
        try:
            ref.read()
        except HeliumError as exc:  # its message never holds a value
            problems.append(checks.Error(
                f"{path}: {ref!r} cannot be read: {exc.code.value}: {exc.message}",
                hint="Check the secret's name, the store's URL and the application's access.",
                obj=path, id="helium_secrets.E001"))
    return problems


class HeliumSecretsConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    """Registers the system check and watches the databases' secrets."""

    name = "helium_secrets.integrations.django"
    label = "helium_secrets"
    verbose_name = "helium-secrets"

    def ready(self) -> None:
        checks.register(check_secrets, "helium_secrets")
        watched: set[tuple[int, str]] = set()
        for alias, database in settings.DATABASES.items():
            for ref in references(database).values():
                if not isinstance(ref, SecretSetting):
                    continue
                key = (id(ref.store), ref.name)
                if key in watched:
                    continue
                watched.add(key)
                try:
                    ref.store.on_rotation(ref.name, _announce)
                except HeliumError as exc:  # the check reports it; start-up carries on
                    _log.warning("cannot watch %r for database %r: %s", ref, alias, exc.code.value)


def _announce(old: Secret | None, new: Secret) -> None:
    _log.info("secret %r rotated to version %s; persistent database connections reconnect at "
              "their next request boundary", new.name, new.version)
