"""The error model: a closed set of codes, one class each, context in every message."""

from __future__ import annotations

import pickle

import pytest

from helium_secrets import errors
from helium_secrets.errors import ErrorCode, HeliumError


def test_one_class_per_code_and_back() -> None:
    classes = {errors.error_for_code(code) for code in ErrorCode}
    assert len(classes) == len(ErrorCode)
    for code in ErrorCode:
        assert errors.error_for_code(code).code is code
        assert issubclass(errors.error_for_code(code), HeliumError)


@pytest.mark.parametrize(
    ("cls", "transient"),
    [
        (errors.ThrottledError, True),
        (errors.UnavailableError, True),
        (errors.DeadlineExceededError, True),
        (errors.SecretNotFoundError, False),
        (errors.PermissionDeniedError, False),
        (errors.ConflictError, False),
    ],
)
def test_transient_defaults(cls: type[HeliumError], transient: bool) -> None:
    assert cls("x").transient is transient
    assert cls("x", transient=not transient).transient is (not transient)


def test_hierarchy_users_catch() -> None:
    assert issubclass(errors.VersionNotFoundError, errors.SecretNotFoundError)
    assert issubclass(errors.DeadlineExceededError, errors.UnavailableError)
    assert issubclass(errors.InvalidNameError, errors.InvalidArgumentError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.ReadOnlyError, errors.UnsupportedError)


def test_message_names_backend_and_secret() -> None:
    error = errors.PermissionDeniedError("denied", backend="vault", name="app/db", version="3")
    assert str(error) == "denied (backend=vault, name='app/db', version='3')"
    assert "PermissionDeniedError" in repr(error)


def test_pickles_with_context() -> None:
    error = errors.ThrottledError("slow down", backend="aws", name="a", retry_after=2.5)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is errors.ThrottledError
    assert (again.backend, again.name, again.retry_after, again.transient) == ("aws", "a", 2.5, True)


def test_a_message_without_context_is_the_message_alone() -> None:
    error = errors.ConflictError("check-and-set failed")
    assert str(error) == "check-and-set failed"
    assert repr(error) == "ConflictError('check-and-set failed')"
    named = errors.ConflictError("check-and-set failed", name="app/db")
    assert repr(named) == "ConflictError(\"check-and-set failed (name='app/db')\")"


def test_every_field_survives_pickling() -> None:
    error = errors.UnavailableError("down", backend="gcp", name="a", version="7",
                                    transient=False, retry_after=1.5)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is errors.UnavailableError
    fields = ("message", "backend", "name", "version", "transient", "retry_after")
    assert [getattr(again, f) for f in fields] == ["down", "gcp", "a", "7", False, 1.5]
    assert str(again) == str(error)


def test_rotation_test_failed_names_the_pending_version_and_pickles() -> None:
    error = errors.RotationTestFailed("app/db", "5")
    assert (error.name, error.version) == ("app/db", "5")
    assert str(error) == ("the pending version '5' of 'app/db' failed its test and was "
                          "discarded; the current version is unchanged")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is errors.RotationTestFailed
    assert (again.name, again.version, str(again)) == ("app/db", "5", str(error))
