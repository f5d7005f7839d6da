"""The one options schema: its parser, every backend's schema, and the docs' option tables."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets._options import Options, build, option, parse, query_of, specs
from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerOptions
from helium_secrets.backends.awsssm import AWSSSMOptions
from helium_secrets.backends.azurekeyvault import AzureKeyVaultOptions
from helium_secrets.backends.dotenv import DotenvOptions
from helium_secrets.backends.environ import EnvironBackend, EnvironOptions
from helium_secrets.backends.gcpsecretmanager import GCPSecretManagerOptions
from helium_secrets.backends.hashivault import VaultBackend, VaultOptions
from helium_secrets.backends.localfile import LocalFileBackend, LocalFileOptions
from helium_secrets.backends.memory import MemoryBackend, MemoryOptions
from helium_secrets.layered import LayeredOptions

CANARY = "canary-0p7-never-show-me"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "backends"

#: Each backend's docs page and its options class.
SCHEMAS: dict[str, type[Options]] = {
    "memory.md": MemoryOptions,
    "file.md": LocalFileOptions,
    "env.md": EnvironOptions,
    "vault.md": VaultOptions,
    "aws.md": AWSSecretsManagerOptions,
    "azure.md": AzureKeyVaultOptions,
    "gcp.md": GCPSecretManagerOptions,
    "awsssm.md": AWSSSMOptions,
    "dotenv.md": DotenvOptions,
    "layered.md": LayeredOptions,
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sample(Options):
    """A schema with one option of each kind, for the parser's own tests."""

    scheme: ClassVar[str] = "sample"

    flag: bool = option(False, query=True, env=("SAMPLE_FLAG", "OTHER_FLAG"))
    count: int = option(3, query=True, ge=1, le=10)
    seconds: float = option(1.5, query=True, gt=0)
    mode: Literal["fast", "slow"] = option("fast", query=True)
    label: str | None = option(None, query=True, env="SAMPLE_LABEL")
    places: tuple[str, ...] = option((), query=True, parse=lambda text: tuple(text.split(",")))
    pin: int | None = option(None, env="SAMPLE_PIN", secret=True, ge=1000)
    hook: Callable[[object], object] | None = None


# -- the grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("true", True), ("TRUE", True), ("1", True),
                                             ("false", False), ("False", False), ("0", False)])
def test_one_boolean_grammar(text: str, value: bool) -> None:
    assert parse(Sample, query={"flag": text}).flag is value


@pytest.mark.parametrize("text", ["ture", "yes", "no", "on", "off", "", "2", "true!"])
def test_anything_else_is_not_a_boolean_and_the_error_names_option_and_value(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"option flag={text!r}")):
        parse(Sample, query={"flag": text})
    with pytest.raises(ValueError, match="SAMPLE_FLAG.*flag"):
        parse(Sample, environ={"SAMPLE_FLAG": text or "x"})


def test_numbers_are_range_checked_from_any_source() -> None:
    assert parse(Sample, query={"count": "10", "seconds": "0.25"}).count == 10
    for query, words in [({"count": "0"}, "between 1 and 10, not 0"),
                         ({"count": "11"}, "between 1 and 10, not 11"),
                         ({"count": "many"}, "count='many': expected a whole number between 1"),
                         ({"seconds": "0"}, "more than 0, not 0.0"),
                         ({"seconds": "nan"}, "a finite number"),
                         ({"seconds": "inf"}, "a finite number")]:
        with pytest.raises(ValueError, match=re.escape(words)):
            parse(Sample, query=query)
    with pytest.raises(ValueError, match="count must be between 1 and 10, not 0"):
        parse(Sample, keywords={"count": 0})
    with pytest.raises(ValueError, match="seconds"):
        Sample(seconds=-1.0)  # made directly: checked all the same


def test_choices_and_types() -> None:
    assert parse(Sample, query={"mode": "slow"}).mode == "slow"
    with pytest.raises(ValueError, match="mode='quick': expected one of fast, slow"):
        parse(Sample, query={"mode": "quick"})
    with pytest.raises(ValueError, match="mode must be one of 'fast', 'slow', not 'quick'"):
        parse(Sample, keywords={"mode": "quick"})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"count": "5"}, "count must be int, not str"),
        ({"count": True}, "count must be int, not bool"),
        ({"flag": 1}, "flag must be bool, not int"),
        ({"hook": "print"}, "hook must be Callable"),
        ({"places": "ab"}, r"places must be tuple\[str, ...\], not str"),
    ]
    for keywords, words in cases:
        with pytest.raises(TypeError, match=words):
            parse(Sample, keywords=keywords)
    assert parse(Sample, keywords={"seconds": 2}).seconds == 2  # an int is a fine float
    assert parse(Sample, keywords={"places": ["a", "b"]}).places == ("a", "b")  # frozen


def test_unknown_options_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown sample:// URL option\(s\): colour \(known: "
                                         r"count, flag, label, mode, places, seconds\)"):
        parse(Sample, query={"colour": "blue"})
    with pytest.raises(ValueError, match="pin"):  # not a URL option: a secret never is
        parse(Sample, query={"pin": "1234"})
    with pytest.raises(TypeError, match=r"unknown sample:// option\(s\): colour \(known: flag, "):
        parse(Sample, keywords={"colour": "blue"})


def test_precedence_keyword_url_environment_default() -> None:
    env = {"SAMPLE_LABEL": "from-env", "SAMPLE_FLAG": "1"}
    query = {"label": "from-url"}
    both = parse(Sample, keywords={"label": "from-kw"}, query=query, environ=env)
    assert (both.label, both.source("label")) == ("from-kw", "keyword")
    url = parse(Sample, query=query, environ=env)
    assert (url.label, url.source("label")) == ("from-url", "url")
    assert (url.flag, url.source("flag")) == (True, "env:SAMPLE_FLAG")
    assert (url.count, url.source("count")) == (3, "default")
    # A keyword that is the default still beats the environment.
    assert parse(Sample, keywords={"flag": False}, environ=env).flag is False


def test_environment_first_variable_set_wins_and_blank_is_unset() -> None:
    assert parse(Sample, environ={"OTHER_FLAG": "true"}).source("flag") == "env:OTHER_FLAG"
    both = parse(Sample, environ={"SAMPLE_FLAG": "0", "OTHER_FLAG": "1"})
    assert (both.flag, both.source("flag")) == (False, "env:SAMPLE_FLAG")
    assert parse(Sample, environ={"SAMPLE_FLAG": "  ", "OTHER_FLAG": "1"}).flag is True
    assert parse(Sample, environ={"SAMPLE_LABEL": " x "}).label == "x"


def test_a_secret_value_is_never_shown() -> None:
    secret = "4321"
    calls: list[Callable[[], object]] = [
        lambda: parse(Sample, environ={"SAMPLE_PIN": CANARY}),
        lambda: parse(Sample, keywords={"pin": 7}),
        lambda: parse(Sample, environ={"SAMPLE_PIN": "7"}),
    ]
    for call in calls:
        with pytest.raises((ValueError, TypeError)) as info:
            call()
        assert CANARY not in str(info.value) and "pin" in str(info.value)
        assert not re.search(r"\b7\b", str(info.value))
    options = parse(Sample, environ={"SAMPLE_PIN": secret})
    assert options.pin == int(secret)
    assert secret not in repr(options)


def test_options_are_immutable_and_query_of_refuses_repeats() -> None:
    options = parse(Sample)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.count = 5  # type: ignore[misc]
    assert query_of(urlsplit("x://?a=1&b=")) == {"a": "1", "b": ""}
    with pytest.raises(ValueError, match="a is given twice"):
        query_of(urlsplit("x://?a=1&a=2"))


def test_a_backend_takes_keywords_or_an_options_object() -> None:
    ready = MemoryOptions(max_value_bytes=10)
    assert MemoryBackend(options=ready).options is ready
    assert MemoryBackend(max_value_bytes=10).options == ready
    with pytest.raises(TypeError, match="not both"):
        MemoryBackend(options=ready, max_value_bytes=5)
    with pytest.raises(TypeError, match="options must be MemoryOptions"):
        build(MemoryOptions, EnvironOptions(), {})


# -- every backend ------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", list(SCHEMAS.values()), ids=list(SCHEMAS))
def test_every_backend_uses_the_one_grammar(schema: type[Options]) -> None:
    flags = [s.name for s in specs(schema) if s.query and s.type == "bool"]
    for name in flags:
        for good, value in (("true", True), ("0", False)):
            assert getattr(parse(schema, query={name: good}), name) is value
        for bad in ("ture", "yes", "off"):
            with pytest.raises(ValueError, match=re.escape(f"{name}={bad!r}")):
                parse(schema, query={name: bad})
    numbers = [s for s in specs(schema) if s.query and s.type in ("int", "float")]
    for spec in numbers:
        with pytest.raises(ValueError, match=spec.name):
            parse(schema, query={spec.name: "-1"})
    with pytest.raises(ValueError, match="unknown .* URL option.*colour"):
        parse(schema, query={"colour": "blue"})
    with pytest.raises(TypeError, match="unknown .* option.*colour"):
        parse(schema, keywords={"colour": "blue"})


def test_backend_options_are_read_only(tmp_path: Path) -> None:
    backends: list[Any] = [
        MemoryBackend(), EnvironBackend(environ={}), LocalFileBackend(tmp_path, environ={}),
        VaultBackend("https://vault.example:8200", token=CANARY),
    ]
    for backend in backends:
        assert isinstance(backend.options, Options)
        with pytest.raises(AttributeError):
            backend.options = backend.options
    assert CANARY not in repr(backends[-1].options)


def test_vault_tls_typo_is_an_error_not_plain_http() -> None:
    # Defect: ?tls=ture used to mean "not in {1, true, yes, on}", so plain http.
    for host in ("127.0.0.1", "vault.example"):  # loopback: http was even allowed
        with pytest.raises(ValueError, match="tls='ture'"):
            open_store(f"vault://{host}:8200/secret?tls=ture", token="t")
    with open_store("vault://vault.example/secret?tls=TRUE", token="t") as store:
        assert isinstance(store.backend, VaultBackend)
        assert store.backend.options.address == "https://vault.example:8200"


def test_vault_environment_flags_use_the_grammar_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "yes")  # used to be false, silently
    with pytest.raises(ValueError, match="VAULT_SKIP_VERIFY='yes'.*tls_skip_verify"):
        VaultBackend("https://vault.example:8200", token="t")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    monkeypatch.setenv("VAULT_TOKEN", CANARY)
    backend = VaultBackend("https://vault.example:8200")
    assert backend.options.tls_skip_verify and backend.options.source("token") == "env:VAULT_TOKEN"
    with pytest.raises(ValueError, match="not both"):
        VaultBackend("https://vault.example:8200", token="t", auth=backend.auth)
    # A token from the environment does not clash with an explicit auth method.
    assert VaultBackend("https://vault.example:8200", auth=backend.auth).auth == backend.auth


def test_vault_url_syntax_that_is_no_option() -> None:
    with pytest.raises(ValueError, match="role_id do not apply to a URL without auth="):
        open_store("vault://vault.example/secret?role_id=r", token="t")
    with pytest.raises(ValueError, match="kv_version='3': expected one of 1, 2"):
        open_store("vault://vault.example/secret?kv_version=3", token="t")
    with open_store("vault://vault.example/secret?timeout=7s", token="t") as store:
        assert isinstance(store.backend, VaultBackend)
        assert store.backend.options.timeout == 7.0


@pytest.mark.parametrize("make", [
    lambda: open_store("mem://?max_value_bytes=0"),
    lambda: MemoryBackend(max_value_bytes=0),
    lambda: open_store("mem://?max_value_bytes=-5"),
])
def test_mem_max_value_bytes_zero_is_refused(make: Callable[[], object]) -> None:
    # Defect: mem://?max_value_bytes=0 was accepted (a store that refuses every value).
    with pytest.raises(ValueError, match="max_value_bytes must be at least 1"):
        make()


def test_open_store_docstring_lists_the_store_options_that_exist() -> None:
    # Defect: the docstring listed a poll_interval option that raised TypeError.
    doc = inspect.getdoc(open_store) or ""
    paragraph = doc.split(":param options:", 1)[1].split("and backend options", 1)[0]
    listed = set(re.findall(r"``(\w+)``", paragraph))
    assert listed == set(SecretStore.OPTIONS)
    with pytest.raises(TypeError, match="poll_interval.*known: max_value_bytes, clock"):
        open_store("mem://", poll_interval=5)


# -- the docs' tables ---------------------------------------------------------------------------

_HEADER = "| option | type | default | URL | environment | meaning |"
_COLUMNS = ("option", "type", "default", "URL", "environment", "meaning")


def _table(page: str) -> dict[str, dict[str, str]]:
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    assert lines.count(_HEADER) == 1, f"{page} needs one options table headed {_HEADER!r}"
    start = lines.index(_HEADER) + 2
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(_COLUMNS, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows[cells["option"].strip("`")] = cells
    return rows


@pytest.mark.parametrize("page", list(SCHEMAS))
def test_the_docs_option_table_is_the_schema(page: str) -> None:
    rows = _table(page)
    schema = SCHEMAS[page]
    assert list(rows) == [spec.name for spec in specs(schema)], "the same options, in order"
    for spec in specs(schema):
        row = rows[spec.name]
        assert " | ".join(re.findall(r"`([^`]+)`", row["type"])) == spec.type, spec.name
        default = re.match(r"`([^`]+)`", row["default"])
        assert default is not None and default[1] == repr(spec.default), spec.name
        url = [spec.url, f"`?{spec.name}=`" if spec.query else None]
        assert row["URL"] == (" or ".join(u for u in url if u) or "—"), spec.name
        assert row["environment"] == (", ".join(f"`{v}`" for v in spec.env) or "—"), spec.name


def test_every_backend_exposes_its_schema_as_options() -> None:
    import helium_secrets.backends.awssecretsmanager as aws
    import helium_secrets.backends.azurekeyvault as azure
    import helium_secrets.backends.environ as env
    import helium_secrets.backends.gcpsecretmanager as gcp
    import helium_secrets.backends.hashivault as vault
    import helium_secrets.backends.localfile as file
    import helium_secrets.backends.memory as mem

    pairs = [(mem.MemoryBackend, MemoryOptions), (file.LocalFileBackend, LocalFileOptions),
             (env.EnvironBackend, EnvironOptions), (vault.VaultBackend, VaultOptions),
             (aws.AWSSecretsManagerBackend, AWSSecretsManagerOptions),
             (azure.AzureKeyVaultBackend, AzureKeyVaultOptions),
             (gcp.GCPSecretManagerBackend, GCPSecretManagerOptions)]
    for backend, schema in pairs:
        prop = inspect.getattr_static(backend, "options")
        assert isinstance(prop, property) and prop.fset is None, backend
        assert inspect.signature(prop.fget).return_annotation == schema.__name__, backend  # type: ignore[arg-type]
        documented = re.findall(r":param (\w+):", schema.__doc__ or "")
        assert documented == [spec.name for spec in specs(schema)], schema.__name__


def test_the_backends_of_issue_18_expose_their_schema_as_options() -> None:
    from helium_secrets.backends.awsssm import AWSSSMBackend
    from helium_secrets.backends.dotenv import DotenvBackend
    from helium_secrets.layered import LayeredBackend

    pairs = [(AWSSSMBackend, AWSSSMOptions), (DotenvBackend, DotenvOptions),
             (LayeredBackend, LayeredOptions)]
    for backend, schema in pairs:
        prop = inspect.getattr_static(backend, "options")
        assert isinstance(prop, property) and prop.fset is None, backend
        assert inspect.signature(prop.fget).return_annotation == schema.__name__, backend  # type: ignore[arg-type]
        documented = re.findall(r":param (\w+):", schema.__doc__ or "")
        assert documented == [spec.name for spec in specs(schema)], schema.__name__
