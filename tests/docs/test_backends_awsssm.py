"""docs/backends/awsssm.md: its URL forms open what the page says (against moto's server), and
its IAM table names every action the backend's calls make (tests/backends/test_awsssm.py
checks each row against the requests on the wire)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from helium_secrets import open_store
from tests.backends.test_awsssm import IAM
from tests.docs.pages import ROOT, python_block

if TYPE_CHECKING:
    from tests.backends.motoserver import MotoServer

PAGE = (ROOT / "docs" / "backends" / "awsssm.md").read_text(encoding="utf-8")


def test_the_url_forms_open_as_documented(moto: MotoServer) -> None:
    urls = re.findall(r'open_store\("(awsssm://[^"]*)"', python_block(PAGE, "# AWS SSM"))
    assert len(urls) == 5
    expected = [("eu-west-1", ""), ("eu-west-1", "/myapp/prod"), (None, ""), (None, ""),
                (None, "")]
    for url, (region, path) in zip(urls, expected, strict=True):
        extra = {"profile": None} if "profile=" in url else {}
        with open_store(url.replace("profile=prod&", ""), session=moto.session(),
                        endpoint_url=moto.endpoint_url, **extra) as store:
            options = store.backend.options  # type: ignore[attr-defined]
            assert options.path == path, url
            if region is not None:
                assert options.region == region, url
            if "parameter_type=String" in url:
                assert (options.parameter_type, options.tier) == ("String", "Advanced")


def test_the_iam_table_names_every_action() -> None:
    section = PAGE.split("## IAM permissions", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"ssm:(\w+)", section))
    made = set().union(*IAM.values())
    assert made <= documented, made - documented
