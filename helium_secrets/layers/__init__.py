"""The layers every backend gets from :class:`~helium_secrets.SecretStore`: cache, retry,
fail-fast guard, rotation listeners and audit events."""
