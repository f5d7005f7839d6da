"""``awsssm://``: AWS Systems Manager Parameter Store, through boto3 (the ``aws`` extra).

Portable names are parameter names under a root path (``app/db`` is ``/app/db``, or
``/myapp/app/db`` under ``awsssm://REGION/myapp``). Values are ``SecureString`` (the default) or
``String`` parameters; versions are the parameter's versions (``"1"``, ``"2"``, ...) and labels
its version labels. The client is built, checked, and its errors classified by the code every
AWS backend shares (:mod:`helium_secrets.backends.awssecretsmanager.options` and ``.errors``).

* ``get_many`` is GetParameters, 10 names a call (the service's limit).
* ``current_version`` is GetParameter without decryption: no KMS call, no value on the wire.
* ``list`` is GetParametersByPath under the root path, recursive.
* A put's request token is recorded in the version's description, so a put retried after a
  lost answer finds the version its first attempt wrote instead of writing another.
* SSM has no conditional write: the store checks ``expected_version`` and ``create_only`` with
  a read before a plain write (not atomic; docs/backends/awsssm.md).

The package: :mod:`.names` (names, paths and labels and their rules), :mod:`.options`,
:mod:`.errors` and :mod:`.backend`.
"""

from helium_secrets.backends.awsssm.backend import BATCH_SIZE, AWSSSMBackend
from helium_secrets.backends.awsssm.errors import classify
from helium_secrets.backends.awsssm.options import MAX_VALUE_BYTES, AWSSSMOptions

__all__ = ["BATCH_SIZE", "MAX_VALUE_BYTES", "AWSSSMBackend", "AWSSSMOptions", "classify"]
