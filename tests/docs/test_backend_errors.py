"""The "Errors" section of each backend page says what the first-contact tests see (issue 13).

Each fragment below is one the tests in ``tests/backends/test_first_contact_*.py`` (and
``tests/unit/test_first_contact.py``) assert in a real error message; the page's errors
section must carry it, so the table and the messages cannot drift apart.
"""

from __future__ import annotations

import pytest

from tests.docs.pages import ROOT

DOCUMENTED: dict[str, tuple[str, ...]] = {
    "vault.md": (
        "the server speaks plain http", "?tls=false", "cannot connect to the Vault server at",
        "is it running", "did not answer in time", "no secrets engine is mounted at",
        "vault://host:port/MOUNT", "does not exist on the Vault server", "check namespace=",
        "is KV version 1", "?kv_version=1", "is KV version 2", "kv_version=1",
        "names are relative to the mount 'secret'", "did you mean 'example'", "UserWarning",
    ),
    "aws.md": (
        "no AWS credentials found", "AWS_PROFILE", "aws configure", "aws configure --profile",
        "AWS_PROFILE='prod'", "is not in the AWS config files", "`ValueError` at open",
        "write it by its name", "AWS never allows", "patch_moto()", "unreachable",
        "`IntegrityError`",
    ),
    "azure.md": (
        "no Azure credential could get a token", "az login", "AZURE_CLIENT_ID",
        "cannot be a Key Vault name", "did you mean 'my-vault'", "could not connect to Key Vault at",
    ),
    "gcp.md": ("UNAVAILABLE at", "pass credentials="),
}


def errors_section(page: str) -> str:
    text = (ROOT / "docs" / "backends" / page).read_text(encoding="utf-8")
    start = text.index("\n## Errors\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


@pytest.mark.parametrize("page", sorted(DOCUMENTED))
def test_the_errors_section_says_what_the_tests_see(page: str) -> None:
    section = errors_section(page)
    missing = [fragment for fragment in DOCUMENTED[page] if fragment not in section]
    assert not missing, f"docs/backends/{page} does not say: {missing}"
