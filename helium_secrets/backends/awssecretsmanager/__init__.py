"""``awssecretsmanager://``: AWS Secrets Manager, through boto3.

Names map to AWS secret names unchanged: portable names are ``/``-separated segments of letters,
digits and ``_ + = . @ -``, which is exactly the AWS alphabet (``/`` included), up to 512
characters. A name never contains ``:``, so it is never taken for an ARN.

Versions are AWS version ids (UUIDs); labels are AWS staging labels (``AWSCURRENT``,
``AWSPREVIOUS`` and custom ones). botocore's own retries are switched off on the clients this
module builds: the store's retry layer is the only one.

Secrets Manager specifics on top of the protocol:

* :meth:`AWSSecretsManagerBackend.delete` schedules the deletion with a recovery window (30 days
  unless ``recovery_window_days`` says otherwise); ``purge=True`` deletes at once. Reading a
  secret scheduled for deletion is a :class:`~helium_secrets.errors.SecretNotFoundError`, as on
  every backend, and writing it a :class:`~helium_secrets.errors.ConflictError`; both say so.
  :meth:`AWSSecretsManagerBackend.restore` (``store.extras.restore(name)``) cancels the deletion.
* ``get_many`` uses BatchGetSecretValue, 20 ids a call (the service's limit), and falls back to
  single reads when a policy denies the batch call.
* ``current_version`` is DescribeSecret, the cheap probe (40,000/s against GetSecretValue's
  10,000/s).

The package: :mod:`.names` (secret names, staging labels, version ids), :mod:`.options` (the
options and the client they build), :mod:`.errors` (classification, and what a secret scheduled
for deletion is), and :mod:`.backend` (its construction), built on :mod:`.reads` and
:mod:`.writes`.
"""

from helium_secrets.backends.awssecretsmanager.backend import (
    MAX_VALUE_BYTES,
    AWSSecretsManagerBackend,
)
from helium_secrets.backends.awssecretsmanager.errors import classify
from helium_secrets.backends.awssecretsmanager.names import CURRENT, NAME_RULES, PENDING, PREVIOUS
from helium_secrets.backends.awssecretsmanager.options import AWSSecretsManagerOptions
from helium_secrets.backends.awssecretsmanager.reads import BATCH_SIZE

__all__ = [
    "BATCH_SIZE",
    "CURRENT",
    "MAX_VALUE_BYTES",
    "NAME_RULES",
    "PENDING",
    "PREVIOUS",
    "AWSSecretsManagerBackend",
    "AWSSecretsManagerOptions",
    "classify",
]
