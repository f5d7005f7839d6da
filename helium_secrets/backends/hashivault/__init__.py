"""``vault://``: HashiCorp Vault and OpenBao key/value secrets, on hvac.

The backend maps portable names to paths of a KV mount (version 2 by default, version 1 on
request), authenticates with a token, AppRole, Kubernetes, JWT or userpass, and keeps its token
alive itself: it renews the token before it expires, logs in again when renewal is no longer
possible (maximum TTL reached, token revoked), and retries a call once after such a re-login.

Value mapping (see docs/backends/vault.md): KV stores a map. A map with the single key
``value`` is that plain text; ``{"value": <base64>, "encoding": "base64"}`` is bytes; any other
map is presented as its JSON text. ``put`` writes ``{"value": text}`` or the base64 form.

Like every backend this one does not retry (the requests adapter is mounted with no retries),
does not cache, and raises hvac's / requests' exceptions, which :meth:`VaultBackend.classify`
maps to portable codes without quoting the server's text.

The package: :mod:`.auth` (where a token comes from), :mod:`.tokens` (its upkeep),
:mod:`.options` (the options and the client they build), :mod:`.kv` (the value mapping),
:mod:`.classify` (errors), :mod:`.core` (the KV operations, as I/O-free request steps),
:mod:`.common` (options, URL form and capabilities), :mod:`.backend` (the hvac twin) and
:mod:`.aio` (the async twin on httpx, imported only when used).
"""

from helium_secrets.backends.hashivault.auth import (
    AppRoleAuth,
    JWTAuth,
    KubernetesAuth,
    TokenAuth,
    UserpassAuth,
    VaultAuth,
)
from helium_secrets.backends.hashivault.backend import STAGED_SUFFIX, VaultBackend
from helium_secrets.backends.hashivault.options import VaultOptions

__all__ = [
    "STAGED_SUFFIX",
    "AppRoleAuth",
    "JWTAuth",
    "KubernetesAuth",
    "TokenAuth",
    "UserpassAuth",
    "VaultAuth",
    "VaultBackend",
    "VaultOptions",
]
