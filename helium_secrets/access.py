"""Who can read a secret, as its service's own policy data says (never the value).

A backend that can tell implements the optional operation ``access(name)`` (an
:func:`~helium_secrets.backends.extra_operation`) from the policies its service keeps (Vault's
ACL policies, the AWS resource policy of the secret, the GCP IAM policy of the secret) and
returns an :class:`AccessReview`; ``helium-secrets access NAME`` and ``audit --access`` show
it. Where a backend has no such operation, who can read a secret is unknown, and is reported
as such. It sits on the ground floor with the values, so that backends can build it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["AccessReview", "Grant"]


@dataclass(frozen=True, slots=True)
class Grant:
    """One principal's access to a secret, as one policy statement or rule gives it.

    :param principal: who, as the service names it (``arn:aws:iam::123456789012:role/app``,
        ``serviceAccount:app@project.iam.gserviceaccount.com``, ``policy:app-read`` for a
        Vault policy, which applies to every token that carries it).
    :param actions: what it may do, as the service names it (``secretsmanager:GetSecretValue``,
        ``roles/secretmanager.secretAccessor``, Vault's capabilities ``read``, ``list``, ...).
    :param effect: ``"allow"``, or ``"deny"`` for a rule that takes reading away.
    :param source: where the grant is written (``resource policy, statement AppRead``,
        ``policy app-read, path "secret/data/app/*"``).
    :param conditional: the grant holds only under conditions that the review does not evaluate
        (an AWS ``Condition``, a GCP IAM condition).
    """

    principal: str
    actions: tuple[str, ...]
    effect: Literal["allow", "deny"] = "allow"
    source: str = ""
    conditional: bool = False


@dataclass(frozen=True, slots=True)
class AccessReview:
    """Who can read a secret, from what its service says.

    :param name: the secret's portable name.
    :param grants: the grants found; a ``deny`` grant is listed too.
    :param read_from: the service data the review comes from (``GetResourcePolicy``,
        ``sys/policy``, ``GetIamPolicy``).
    :param complete: whether these are all the ways to read it that the service has. ``False``
        where access can also come from elsewhere that the secret's policy does not show (AWS
        identity policies, GCP project-level IAM): see :attr:`not_shown`.
    :param not_shown: what can also grant access and is not in :attr:`grants`.
    """

    name: str
    grants: tuple[Grant, ...]
    read_from: str
    complete: bool
    not_shown: str = ""

    @property
    def readers(self) -> tuple[str, ...]:
        """The principals with an unconditional ``allow`` and no ``deny``."""
        denied = {g.principal for g in self.grants if g.effect == "deny"}
        return tuple(dict.fromkeys(g.principal for g in self.grants
                                   if g.effect == "allow" and g.principal not in denied))
