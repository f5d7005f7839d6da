"""The async SSM Parameter Store backend, through aiobotocore, against the moto server the
sync tests use: the same scripted sequence on both twins, the same answers and errors, the
same classification; the 10-name batch; construction that connects nowhere."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("aiobotocore")

from helium_secrets.backends._base import RawSecret
from helium_secrets.backends.awsssm import BATCH_SIZE, AWSSSMBackend
from helium_secrets.backends.awsssm.aio import AsyncAWSSSMBackend
from tests.backends.aws_shared import moto_per_test  # noqa: F401 (the server fixture)
from tests.backends.motoserver import MotoServer
from tests.backends.test_aws_async import Recorder

OFF_BOX = "192.0.2.10"


def root() -> str:
    return f"/helium-async/t{uuid.uuid4().hex[:12]}"


def on_both(server: MotoServer, steps: Any, **options: Any) -> tuple[Recorder, Recorder]:
    """``steps`` recorded on the sync backend, then on the async one, each under its root."""
    sync_backend = AWSSSMBackend(session=server.session(), endpoint_url=server.endpoint_url,
                                 path=root(), **options)
    expected = Recorder(sync_backend, "")
    asyncio.run(steps(expected))
    sync_backend.close()

    async def main() -> Recorder:
        backend = AsyncAWSSSMBackend(session=server.aio_session(),
                                     endpoint_url=server.endpoint_url, path=root(), **options)
        try:
            recorder = Recorder(backend, "")
            await steps(recorder)
            return recorder
        finally:
            await backend.aclose()

    return asyncio.run(main()), expected


async def script(r: Recorder) -> None:
    a, b = "app/a", "app/sub/b"
    await r.do("put", a, "one")
    await r.do("get", a)
    token = uuid.uuid4().hex
    await r.do("put", a, "two", request_token=token, labels=["blue"], metadata={"team": "x"})
    await r.do("put", a, "two", request_token=token, labels=["blue"])  # a retry: one version
    await r.do("get", a, label="blue")
    await r.do("get", a, version="1")
    await r.do("get", a, version="1", label="blue")
    await r.do("get", a, version="x")
    await r.do("get", a, version="99")
    await r.do("get", a, label="bad label!")
    await r.do("current_version", a)
    await r.do("list_versions", a)
    await r.do("set_label", a, "blue", "1")
    await r.do("set_label", a, "blue", None)
    await r.do("set_label", a, "green", "x")
    await r.do("put", a, b"bytes")
    await r.do("put", a, "")
    await r.do("put", a, "v", labels=["aws:nope"])
    await r.do("put", b, "bee")
    await r.do("get_many", [a, b, "app/missing"])
    await r.do("list_names", "")
    await r.do("list_names", "app/s")
    await r.do("list_names", "bad//prefix")
    await r.do("stage", a, "pending", expected_current="2")
    await r.do("promote", a, "2", expected_current="1")
    await r.do("discard", a, "2")
    await r.do("get", "app/missing")
    await r.do("current_version", "app/missing")
    await r.do("list_versions", "app/missing")
    await r.do("delete", b)
    await r.do("get", b)
    await r.do("delete", b)


def test_the_same_script_gives_the_same_answers_on_both(server: MotoServer) -> None:
    got, expected = on_both(server, script)
    assert len(got.log) == len(expected.log) > 30
    for step, (mine, theirs) in enumerate(zip(got.log, expected.log, strict=True)):
        assert mine == theirs, f"step {step}"
    kinds = {entry[1][0] for entry in got.log if isinstance(entry[1], tuple)}
    assert {"classified", "raised", "secret", "version"} <= kinds


@pytest.mark.parametrize("kind", ["throttle", "internal", "denied", "expired", "drop"])
def test_a_fault_is_classified_as_the_sync_backend_classifies_it(
        server: MotoServer, kind: str) -> None:
    async def steps(r: Recorder) -> None:
        await r.do("put", "app/fault", "value")
        server.fail_next(1, kind, operations=["GetParameter"], retry_after=2)
        await r.do("get", "app/fault")
        await r.do("get", "app/fault")

    got, expected = on_both(server, steps)
    assert got.log == expected.log
    assert got.log[1][1][0] == "classified"


def test_the_batch_takes_10_names_a_call(server: MotoServer) -> None:
    path = root()

    async def main() -> None:
        backend = AsyncAWSSSMBackend(session=server.aio_session(),
                                     endpoint_url=server.endpoint_url, path=path)
        assert backend.client is None and backend.capabilities.batch_get == BATCH_SIZE == 10
        names = [f"n{i}" for i in range(BATCH_SIZE)]
        for name in names:
            await backend.put(name, f"value-{name}")
        server.reset_counts()
        got = await backend.get_many(names)
        assert {n: s.value for n, s in got.items() if isinstance(s, RawSecret)} == {
            n: f"value-{n}" for n in names}
        assert server.requests == {"GetParameters": 1}
        await backend.aclose()

    asyncio.run(main())


def test_from_url_and_the_endpoint_rule_are_the_sync_backends(
        server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    url = urlsplit(f"awsssm://eu-west-1/myapp/prod?endpoint_url={server.endpoint_url}")
    backend = AsyncAWSSSMBackend.from_url(url, session=server.aio_session())
    twin = AWSSSMBackend.from_url(url, session=server.session())
    assert (backend.root, backend.region) == (twin.root, twin.region)
    # The name rules' check is a closure per backend: the rest of the capabilities is equal.
    assert backend.capabilities.name_rules.description == twin.capabilities.name_rules.description
    assert dataclasses.replace(backend.capabilities, name_rules=twin.capabilities.name_rules) \
        == twin.capabilities
    assert repr(backend) == repr(twin).replace("<AWSSSMBackend", "<AsyncAWSSSMBackend")
    twin.close()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for build in (AsyncAWSSSMBackend, AWSSSMBackend):
        with pytest.raises(ValueError, match=rf"AWS SSM endpoint at http://{OFF_BOX}:80") as info:
            build(region="eu-west-1", endpoint_url=f"http://{OFF_BOX}")
        assert "AWS_ENDPOINT_URL_SSM" in str(info.value)
