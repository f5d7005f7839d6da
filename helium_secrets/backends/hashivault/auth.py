"""Vault / OpenBao authentication methods: where a token comes from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import hvac
import hvac.exceptions

from helium_secrets.backends.hashivault.core import Call, vault_path
from helium_secrets.errors import (
    UnauthenticatedError,
)

__all__ = ["AppRoleAuth", "JWTAuth", "KubernetesAuth", "TokenAuth", "UserpassAuth", "VaultAuth",
           "auth_block", "auth_from_query", "resolve_auth", "send"]

KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class VaultAuth:
    """How the backend gets a token. Subclasses implement :meth:`login`."""

    #: The auth method's name, used in error messages.
    method: ClassVar[str] = "token"
    #: Whether :meth:`login` can produce a fresh token (a plain token cannot).
    can_login: ClassVar[bool] = True

    def login_call(self) -> Call:
        """The login request (its body holds the credentials: pass it straight on)."""
        raise NotImplementedError

    def login(self, client: hvac.Client) -> Mapping[str, Any]:
        """Log in and return the response's ``auth`` block (``client_token``, ...)."""
        # The credentials go straight into the call, and the response (which holds the new
        # token) straight to auth_block: no local of ours keeps either (error reporters
        # capture frames' locals).
        return auth_block(send(client, self.login_call()))


def _read_file(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        # The path is configuration, not a secret; the content never reaches the message.
        raise UnauthenticatedError(f"cannot read the {what} file {os.fspath(path)!r}: "
                                   f"{exc.strerror}") from None


@dataclass(frozen=True)
class TokenAuth(VaultAuth):
    """A Vault token, given or read from a file (re-read when Vault rejects the old one).

    :param token: the token itself.
    :param token_file: a file holding the token (``~/.vault-token``, a Vault Agent sink).
    """

    method: ClassVar[str] = "token"
    can_login: ClassVar[bool] = False

    token: str | None = field(default=None, repr=False)
    token_file: str | None = None

    def __post_init__(self) -> None:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("TokenAuth takes exactly one of token= and token_file=")

    def current(self) -> str:
        """The token: the given one, or the file's current content."""
        if self.token is not None:
            return self.token
        assert self.token_file is not None
        return _read_file(self.token_file, "token")


@dataclass(frozen=True)
class AppRoleAuth(VaultAuth):
    """AppRole: a role id and a secret id (given, or read from a file at each login).

    :param role_id: the role id.
    :param secret_id: the secret id (omit for roles with ``bind_secret_id=false``).
    :param secret_id_file: a file holding the secret id, re-read at each login.
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "approle"

    role_id: str
    secret_id: str | None = field(default=None, repr=False)
    secret_id_file: str | None = None
    mount: str = "approle"

    def login_call(self) -> Call:
        return Call("POST", _login_path(self.mount),
                    body={"role_id": self.role_id, "secret_id": self._secret_id()})

    def _secret_id(self) -> str | None:
        if self.secret_id is None and self.secret_id_file is not None:
            return _read_file(self.secret_id_file, "AppRole secret id")
        return self.secret_id


@dataclass(frozen=True)
class KubernetesAuth(VaultAuth):
    """Kubernetes: the pod's service-account token, read from its file at each login.

    :param role: the Vault role bound to the service account.
    :param jwt_file: the service-account token file.
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "kubernetes"

    role: str
    jwt_file: str = KUBERNETES_TOKEN_FILE
    mount: str = "kubernetes"

    def login_call(self) -> Call:
        return Call("POST", _login_path(self.mount), body={
            "role": self.role, "jwt": _read_file(self.jwt_file, "service-account token")})


@dataclass(frozen=True)
class JWTAuth(VaultAuth):
    """JWT/OIDC with a JWT the workload already has (given, or read from a file each login).

    :param role: the Vault role.
    :param jwt: the token itself.
    :param jwt_file: a file holding it (a projected token that is rotated on disk).
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "jwt"

    role: str
    jwt: str | None = field(default=None, repr=False)
    jwt_file: str | None = None
    mount: str = "jwt"

    def __post_init__(self) -> None:
        if (self.jwt is None) == (self.jwt_file is None):
            raise ValueError("JWTAuth takes exactly one of jwt= and jwt_file=")

    def login_call(self) -> Call:
        return Call("POST", _login_path(self.mount), body={
            "role": self.role,
            "jwt": self.jwt if self.jwt is not None else _read_file(self.jwt_file or "", "JWT")})


@dataclass(frozen=True)
class UserpassAuth(VaultAuth):
    """Username and password (given, or the password read from a file at each login).

    :param username: the user.
    :param password: the password.
    :param password_file: a file holding the password.
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "userpass"

    username: str
    password: str | None = field(default=None, repr=False)
    password_file: str | None = None
    mount: str = "userpass"

    def __post_init__(self) -> None:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("UserpassAuth takes exactly one of password= and password_file=")

    def login_call(self) -> Call:
        return Call("POST", _login_path(self.mount, self.username), body={
            "password": self.password if self.password is not None
            else _read_file(self.password_file or "", "password")})


def _login_path(mount: str, user: str | None = None) -> str:
    if user is None:
        return vault_path("auth/{mount}/login", mount=mount)
    return vault_path("auth/{mount}/login/{user}", mount=mount, user=user)


def send(client: hvac.Client, call: Call) -> Any:
    """Send ``call`` with ``client``'s adapter (its token and namespace); the answer's JSON,
    or ``None`` for an empty one. Errors are hvac's, from the status."""
    answer = client.adapter.request(call.method, "/v1/" + call.path, params=call.params,
                                    json=call.body)
    return answer if isinstance(answer, Mapping) else None


def auth_block(response: Any) -> Mapping[str, Any]:
    auth = response.get("auth") if isinstance(response, Mapping) else None
    if not isinstance(auth, Mapping) or not auth.get("client_token"):
        raise UnauthenticatedError("the Vault login response carries no token")
    return auth



def resolve_auth(auth: VaultAuth | None, token: str | None) -> VaultAuth:
    if auth is not None:
        return auth
    if token is not None:
        return TokenAuth(token=token)
    token_file = Path.home() / ".vault-token"
    if token_file.is_file():
        return TokenAuth(token_file=str(token_file))
    raise ValueError(
        "no Vault credentials: pass auth= or token=, set VAULT_TOKEN, or log in with the "
        "vault CLI (~/.vault-token)"
    )


def auth_from_query(method: str, query: dict[str, str]) -> VaultAuth:
    """Build the auth method that a URL's ``auth=`` names, consuming its options."""
    mount = query.pop("auth_mount", None)
    extra: dict[str, Any] = {"mount": mount} if mount else {}
    if method == "token":
        token_file = query.pop("token_file", None)
        if token_file is None:
            raise ValueError("auth=token in a URL needs token_file= (or pass token= by keyword)")
        return TokenAuth(token_file=token_file)
    if method == "approle":
        role_id = query.pop("role_id", None)
        if role_id is None:
            raise ValueError("auth=approle needs role_id=")
        return AppRoleAuth(role_id=role_id, secret_id_file=query.pop("secret_id_file", None),
                           **extra)
    if method == "kubernetes":
        role = query.pop("role", None)
        if role is None:
            raise ValueError("auth=kubernetes needs role=")
        return KubernetesAuth(role=role, jwt_file=query.pop("jwt_file", KUBERNETES_TOKEN_FILE),
                              **extra)
    if method == "jwt":
        role, jwt_file = query.pop("role", None), query.pop("jwt_file", None)
        if role is None or jwt_file is None:
            raise ValueError("auth=jwt in a URL needs role= and jwt_file=")
        return JWTAuth(role=role, jwt_file=jwt_file, **extra)
    if method == "userpass":
        username, password_file = query.pop("username", None), query.pop("password_file", None)
        if username is None or password_file is None:
            raise ValueError("auth=userpass in a URL needs username= and password_file=")
        return UserpassAuth(username=username, password_file=password_file, **extra)
    raise ValueError(f"unknown Vault auth method {method!r}: token, approle, kubernetes, jwt "
                     "or userpass")

