"""Every argument rule's error: its class, and a message that names what is wrong, the backend
and the secret (never the value)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helium_secrets._validation import MAX_NAME, Validator, portable_name_problem
from helium_secrets._values import SecretValue
from helium_secrets.backends._base import Capabilities
from helium_secrets.errors import (
    HeliumError,
    InvalidArgumentError,
    InvalidNameError,
    ReadOnlyError,
    TooLargeError,
    UnsupportedError,
)

FULL = Capabilities(binary=True, labels=True, max_value_bytes=8, max_metadata_keys=2,
                    max_metadata_key_bytes=4, max_metadata_value_bytes=5, staging=True)
BARE = Capabilities(binary=False, labels=False, read_only=True)
full, bare = Validator("full", FULL), Validator("bare", BARE)


@pytest.mark.parametrize(("call", "error", "message"), [
    pytest.param(lambda: full.names(3), InvalidArgumentError,
                 'names must be an iterable of names, not int (backend=full)',
                 id='names'),
    pytest.param(lambda: full.prefix(3), InvalidArgumentError,
                 'the prefix must be a string without control characters (backend=full)',
                 id='prefix-type'),
    pytest.param(lambda: full.prefix("a\x1fb"), InvalidArgumentError,
                 'the prefix must be a string without control characters (backend=full)',
                 id='prefix-control'),
    pytest.param(lambda: bare.writable("app/db"), ReadOnlyError,
                 "the bare backend is read-only (backend=bare, name='app/db')",
                 id='writable'),
    pytest.param(lambda: full.label_move("app/db", None, "1"), InvalidArgumentError,
                 "label must be a string, not None (backend=full, name='app/db')",
                 id='label_move-none'),
    pytest.param(lambda: full.label_move("app/db", "blue", 3), InvalidArgumentError,
                 "version must be a string, not int (backend=full, name='app/db')",
                 id='label_move-version'),
    pytest.param(lambda: full.label_move("app/db", 3, "1"), InvalidArgumentError,
                 "label must be a string, not int (backend=full, name='app/db')",
                 id='label_move-label'),
    pytest.param(lambda: bare.label_move("app/db", "blue", "1"), UnsupportedError,
                 "the bare backend has no labels (backend=bare, name='app/db')",
                 id='label_move-nolabels'),
    pytest.param(lambda: full.ttl("app/db", "5"), InvalidArgumentError,
                 "ttl must be a number of seconds, not str (backend=full, name='app/db')",
                 id='ttl-type'),
    pytest.param(lambda: full.ttl("app/db", -1), InvalidArgumentError,
                 "ttl must not be negative (backend=full, name='app/db')",
                 id='ttl-negative'),
    pytest.param(lambda: full.ttl("app/db", float("nan")), InvalidArgumentError,
                 "ttl must not be negative (backend=full, name='app/db')",
                 id='ttl-nan'),
    pytest.param(lambda: full.flag("app/db", "purge", "no"), InvalidArgumentError,
                 "purge must be True or False, not str (backend=full, name='app/db')",
                 id='flag'),
    pytest.param(lambda: bare.staging("app/db"), UnsupportedError,
                 "the bare backend has no staged rotation (backend=bare, name='app/db')",
                 id='staging'),
    pytest.param(lambda: full.value("app/db", 3), InvalidArgumentError,
                 "a secret value is str or bytes, not int (backend=full, name='app/db')",
                 id='value-type'),
    pytest.param(lambda: bare.value("app/db", b"x"), InvalidArgumentError,
                 "the bare backend stores text only; pass a str (backend=bare, name='app/db')",
                 id='value-bytes'),
    pytest.param(lambda: bare.value("app/db", SecretValue(b"x")), InvalidArgumentError,
                 "the bare backend stores text only; pass a str (backend=bare, name='app/db')",
                 id='value-secretvalue-bytes'),
    pytest.param(lambda: full.value("app/db", "\ud800"), InvalidArgumentError,
                 "the value contains a lone surrogate (U+D800-U+DFFF), which is not text any backend can store and give back; pass valid text or bytes (backend=full, name='app/db')",
                 id='value-surrogate'),
    pytest.param(lambda: full.value("app/db", "ééééé"), TooLargeError,
                 "the value is 10 bytes; the full backend takes at most 8 (backend=full, name='app/db')",
                 id='value-size'),
    pytest.param(lambda: full.metadata("app/db", [1]), InvalidArgumentError,
                 "metadata must be a mapping of str to str, not list (backend=full, name='app/db')",
                 id='meta-type'),
    pytest.param(lambda: full.metadata("app/db", {"a": 1}), InvalidArgumentError,
                 "metadata keys and values must be strings (backend=full, name='app/db')",
                 id='meta-str'),
    pytest.param(lambda: full.metadata("app/db", {"a": "1", "b": "2", "c": "3"}), InvalidArgumentError,
                 "metadata has 3 keys; the full backend takes at most 2 (backend=full, name='app/db')",
                 id='meta-keys'),
    pytest.param(lambda: full.metadata("app/db", {"": "1"}), InvalidArgumentError,
                 "a metadata key must not be empty (backend=full, name='app/db')",
                 id='meta-empty'),
    pytest.param(lambda: full.metadata("app/db", {"k": "\udc00"}), InvalidArgumentError,
                 "metadata 'k' contains a lone surrogate (backend=full, name='app/db')",
                 id='meta-surrogate'),
    pytest.param(lambda: full.metadata("app/db", {"ké-x": "1"}), InvalidArgumentError,
                 "metadata 'ké-x': the key is 5 bytes; the full backend takes at most 4 (backend=full, name='app/db')",
                 id='meta-keylen'),
    pytest.param(lambda: full.metadata("app/db", {"k": "ééé"}), InvalidArgumentError,
                 "metadata 'k': the value is 6 bytes; the full backend takes at most 5 (backend=full, name='app/db')",
                 id='meta-vallen'),
    pytest.param(lambda: full.labels("app/db", "blue"), InvalidArgumentError,
                 "labels must be a sequence of label strings, not str (backend=full, name='app/db')",
                 id='labels-type'),
    pytest.param(lambda: full.labels("app/db", ["blue", ""]), InvalidArgumentError,
                 "each of labels must not be empty (backend=full, name='app/db')",
                 id='labels-item'),
    pytest.param(lambda: bare.labels("app/db", ["blue"]), UnsupportedError,
                 "the bare backend has no labels (backend=bare, name='app/db')",
                 id='labels-nolabels'),
])
def test_each_rule_names_what_is_wrong(
    call: Callable[[], object], error: type[HeliumError], message: str
) -> None:
    with pytest.raises(HeliumError) as info:
        call()
    assert type(info.value) is error
    assert str(info.value) == message


def test_every_boundary_is_accepted() -> None:
    full.prefix("a b/")  # a space is no control character
    full.ttl("app/db", 0)
    assert full.value("app/db", "éééé") == "éééé"  # exactly 8 bytes
    assert full.value("app/db", SecretValue(b"\x00\xff")) == b"\x00\xff"
    assert bare.value("app/db", SecretValue("text")) == "text"
    assert dict(full.metadata("app/db", {"ké-": "1", "k": "ééa"}) or {}) == {"ké-": "1", "k": "ééa"}
    assert full.labels("app/db", ["blue"]) == ("blue",)
    assert bare.labels("app/db", []) == ()
    full.label_move("app/db", "blue", None)
    full.staging("app/db")


@pytest.mark.parametrize(("name", "problem"), [
    ("", "the name is empty"),
    ("/a", "a name does not start or end with '/'"),
    ("a/", "a name does not start or end with '/'"),
    ("a//b", "empty segment ('//')"),
    ("a/./b", "segment '.' is not allowed"),
    ("a b", "names contain no whitespace or control characters"),
    ("a\x01b", "names contain no whitespace or control characters"),
    ("a\x7fb", "names contain no whitespace or control characters"),
    ("x" * (MAX_NAME + 1), f"longer than {MAX_NAME} characters"),
])
def test_a_bad_name_is_refused_naming_the_rule_and_the_name(name: str, problem: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        full.name(name)
    assert (info.value.message, info.value.backend, info.value.name) == (
        f"invalid secret name: {problem}", "full", name)


def test_a_name_that_is_no_text_is_not_repeated() -> None:
    for name, problem in (("a\ud800", "names contain no lone surrogates"),
                          (3, "a name is a string, not int")):
        with pytest.raises(InvalidNameError) as info:
            full.name(name)
        assert str(info.value) == f"invalid secret name: {problem} (backend=full)"


def test_every_edge_of_the_name_rules_is_accepted() -> None:
    # The portable rules; each backend may be stricter (the default allows no "!" or "é").
    for name in ("x" * MAX_NAME, "pässwörd/密码", "a!b/~c", "a/.b/..c"):
        assert portable_name_problem(name) is None
    assert full.name("a/.b/..c") == "a/.b/..c"


def test_a_name_checked_once_is_remembered_and_a_bad_one_never_is() -> None:
    # Every cache miss checks its name: a name that passed is remembered (per store), one that
    # failed is refused each time, and a str subclass is checked every time.
    class Sly(str):
        __slots__ = ()

    validator = Validator("full", FULL)
    assert validator.name("app/db") == "app/db"
    assert "app/db" in validator._checked
    assert validator.name("app/db") == "app/db"
    for _ in range(2):
        with pytest.raises(InvalidNameError):
            validator.name("app//db")
    assert "app//db" not in validator._checked
    with pytest.raises(InvalidNameError):
        validator.name(Sly("a b"))
    assert validator.name(Sly("app/x")) == "app/x"
    assert "app/x" not in validator._checked
    assert "app/db" not in Validator("other", FULL)._checked


def test_the_remembered_names_are_bounded() -> None:
    from helium_secrets import _validation

    validator = Validator("full", FULL)
    for i in range(_validation._CHECKED_NAMES + 10):
        validator.name(f"n{i}")
    assert len(validator._checked) <= _validation._CHECKED_NAMES


def test_a_read_selector_takes_one_of_version_and_label() -> None:
    full.selector("app/db", "", None)  # an empty one is simply not found
    full.selector("app/db", None, "")
    full.selector("app/db", None, "blue")
    bare.selector("app/db", "1", None)
    cases = [(full, ("1", "blue"), InvalidArgumentError,
              "give a version or a label, not both (backend=full, name='app/db')"),
             (bare, (None, "blue"), UnsupportedError,
              "the bare backend has no labels (backend=bare, name='app/db')"),
             (full, (1, None), InvalidArgumentError,
              "version must be a string, not int (backend=full, name='app/db')"),
             (full, (None, 1), InvalidArgumentError,
              "label must be a string, not int (backend=full, name='app/db')")]
    for validator, (version, label), error, message in cases:
        with pytest.raises(error) as info:
            validator.selector("app/db", version, label)
        assert str(info.value) == message
