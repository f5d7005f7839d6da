"""The store's code, written once, asynchronously: the source of both twins.

:class:`~helium_secrets.AsyncSecretStore` runs these modules as they are; the synchronous
:class:`~helium_secrets.SecretStore` runs ``helium_secrets/_store.py``, ``_pipeline.py``,
``_reads.py``, ``_writes.py``, ``_leases.py`` and ``_rotation.py``, generated from them by
``scripts/unasync.py`` (``--check`` in CI fails when they differ). Edit these, never those.
"""
