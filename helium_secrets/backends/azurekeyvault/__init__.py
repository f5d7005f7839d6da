"""``azurekeyvault://``: Azure Key Vault secrets, through azure-keyvault-secrets' ``SecretClient``.

URL forms (see docs/backends/azure.md)::

    azurekeyvault://myvault                     -> https://myvault.vault.azure.net
    azurekeyvault://myvault.vault.azure.net     -> that host
    azurekeyvault://127.0.0.1:8443              -> https://127.0.0.1:8443 (an emulator)

What this module owns, and nothing more (the store does validation, retries and caching):

* **Names.** Key Vault names are ``[0-9a-zA-Z-]{1,127}`` and case-insensitive. Portable names
  are mapped with an escape scheme that only produces ``[a-z0-9-]``, so it stays injective
  under case folding: lower-case letters and digits stay as they are, ``/`` becomes ``--``
  and every other character (upper-case letters, ``. _ + = @ -``) becomes ``-`` and its two
  lower-case hex digits (``A`` -> ``-41``, ``-`` -> ``-2d``, ``.`` -> ``-2e``). After a ``-``
  comes either ``-`` or two hex digits, so decoding is unambiguous; :func:`decode_name`
  refuses anything that is not the canonical encoding of a portable name, and ``list`` skips
  such (foreign) names. ``names="verbatim"`` turns the mapping off for vaults whose names are
  already Key Vault names.
* **Values.** Text is stored as it is; bytes are stored base64-encoded with the content type
  ``application/octet-stream;base64`` and decoded on the way back.
* **Soft delete.** ``delete`` waits until the deletion has finished (the SDK's poller) and
  purges when asked. Writing a name that is deleted but recoverable is a conflict, or, with
  ``recover_deleted=True``, recovers the secret and then writes the new version.
* **Attributes.** A disabled version is not readable (Key Vault refuses it); an expired or
  not-yet-valid version (``exp``/``nbf``, which Key Vault treats as informational) is refused
  here too unless ``honour_dates=False``. Both are :class:`~helium_secrets.errors.VersionNotFoundError`.
* **Staged rotation.** Key Vault makes every write current at once, so the store stages a
  pending value in a companion the backend reserves: the hidden secret
  ``<Key Vault name>-0staged``, which no portable name maps to (the store's companion
  emulation writes, promotes and removes it; a companion is recovered when found soft-deleted,
  and left soft-deleted when it cannot be purged).
* **Errors.** :meth:`AzureKeyVaultBackend.classify` maps HTTP statuses and Key Vault error
  codes (never the service's free text) to portable codes; 429 carries Retry-After.

azure-core's own retries are switched off (``retry_total=0``): the store is the one retry layer.

The package: :mod:`.names` (the name mapping and its rules), :mod:`.values` (value encoding
and tags), :mod:`.options` (the options and the client they build), :mod:`.errors`
(classification), :mod:`.common` (what both twins share without I/O), :mod:`.backend` (the
operations) and :mod:`.aio` (the async twin, imported only when used).
"""

from helium_secrets.backends.azurekeyvault.backend import AzureKeyVaultBackend
from helium_secrets.backends.azurekeyvault.errors import classify
from helium_secrets.backends.azurekeyvault.names import (
    MAX_NAME_LENGTH,
    STAGED_SUFFIX,
    decode_name,
    encode_name,
)
from helium_secrets.backends.azurekeyvault.options import AzureKeyVaultOptions
from helium_secrets.backends.azurekeyvault.values import (
    BINARY_CONTENT_TYPE,
    MAX_TAGS,
    MAX_VALUE_BYTES,
    ORDER_TAG,
    PROMOTED_FROM_TAG,
)

__all__ = [
    "BINARY_CONTENT_TYPE",
    "MAX_NAME_LENGTH",
    "MAX_TAGS",
    "MAX_VALUE_BYTES",
    "ORDER_TAG",
    "PROMOTED_FROM_TAG",
    "STAGED_SUFFIX",
    "AzureKeyVaultBackend",
    "AzureKeyVaultOptions",
    "classify",
    "decode_name",
    "encode_name",
]
