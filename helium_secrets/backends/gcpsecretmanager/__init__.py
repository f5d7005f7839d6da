"""``gcpsecretmanager://``: GCP Secret Manager, through google-cloud-secret-manager.

URL form: ``gcpsecretmanager://PROJECT?location=REGION&...`` (see
:meth:`GCPSecretManagerBackend.from_url`); without a project, the one of
``google.auth.default()`` is used.

How the portable model maps onto the service:

* **Names.** Secret ids are ``[A-Za-z0-9_-]{1,255}``, without ``/``. Portable names are mapped
  with an escape: an underscore followed by ``S``, ``D``, ``P``, ``E``, ``A`` or ``_`` stands
  for ``/``, ``.``, ``+``, ``=``, ``@`` or ``_``; every other character (an underscore included)
  stands for itself. ``app/db.url`` is ``app_Sdb_Durl``; ``db_password`` stays
  ``db_password``. The mapping is injective and reversible (:func:`encode_name`,
  :func:`decode_name`); listing skips service ids that no portable name maps to. With
  ``raw_names=True`` names are used unchanged (and must be valid secret ids).
* **Versions** are ``"1"``, ``"2"``, ...; states enabled, disabled, destroyed. The current
  version is ``latest`` (the most recently created one); when that one is disabled or
  destroyed, the newest *enabled* version is current, so disabling a bad version rolls back.
  In *alias mode* (``current_alias="current"``) the current version is the one that alias
  names instead, and puts move it.
* **Labels** are version aliases (an alias names one version at a time). **Metadata** is
  written as the secret's annotations; reads (with ``read_metadata=True``) and version
  listings merge the secret's labels and annotations.
* **Integrity.** Writes send the payload's CRC32C, which the service verifies; reads verify
  the CRC32C the service returns and raise :class:`~helium_secrets.errors.IntegrityError` on
  a mismatch, never returning a damaged value.
* **Quotas.** Reads of values and the rotation probe use ``AccessSecretVersion`` (90,000/min
  per project), not the metadata reads (``GetSecret``, ``List*``: 600/min).
* **Check-and-set.** The service has no "expected version" on ``AddSecretVersion``. By
  default ``expected_version`` is compared with the current version just before the write: a
  writer that slips in between the two calls is not detected (``capabilities.check_and_set``
  is False). In alias mode the check is atomic: the alias is moved under the secret's etag
  only if it still names the expected version, and staged rotation is available. Every
  secret-level update (annotations, aliases) is made under the secret's etag.
* **Retries.** google-api-core's retries are switched off on every call (``retry=None``) and
  every call has a ``timeout``: the store's retry layer is the only one.

The package: :mod:`.names` (the name mapping and the service's rules for ids, aliases and
annotation keys), :mod:`.options` (the options and the client they build), :mod:`.errors`
(classification), and :mod:`.backend` (its construction), built on :mod:`.reads`,
:mod:`.writes` and :mod:`.versions` (staged rotation and version states).
"""

from helium_secrets.backends.gcpsecretmanager.backend import MAX_VALUE_BYTES, GCPSecretManagerBackend
from helium_secrets.backends.gcpsecretmanager.errors import classify
from helium_secrets.backends.gcpsecretmanager.names import MAX_SECRET_ID, decode_name, encode_name
from helium_secrets.backends.gcpsecretmanager.options import GCPSecretManagerOptions
from helium_secrets.backends.gcpsecretmanager.reads import crc32c

__all__ = [
    "MAX_SECRET_ID",
    "MAX_VALUE_BYTES",
    "GCPSecretManagerBackend",
    "GCPSecretManagerOptions",
    "classify",
    "crc32c",
    "decode_name",
    "encode_name",
]
