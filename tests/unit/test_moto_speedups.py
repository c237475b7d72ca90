"""The moto adapters that only save time or memory (finlake/local/moto_patches.py, 4-9) change nothing a run sees:
a kept ASL parse tree still gives each execution its own evaluation components and still refuses a bad
definition every time; Task states share one client per service; SNS signs with one key; every session
reads botocore's models through one loader; moto reads its S3 URL table again only when it may have changed; moto's
requests are freed once answered, without waiting for the cyclic collector."""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from finlake.local import moto_patches

PASS_THROUGH = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"n": 1}, "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture
def sfn(moto_env: None) -> Iterator[Any]:
    moto_patches.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def test_each_parse_of_one_definition_builds_new_components_from_one_tree() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    moto_patches.install()
    first, first_tree = AmazonStateLanguageParser.parse(PASS_THROUGH)
    second, second_tree = AmazonStateLanguageParser.parse(PASS_THROUGH)
    assert first_tree is second_tree
    assert first is not second and type(first) is type(second)


def test_a_definition_with_a_syntax_error_is_refused_every_time(sfn: Any) -> None:
    broken = PASS_THROUGH.replace('"End": true', '"End": tru')
    for name in ("first", "second"):  # moto 5.2.5 answers InvalidDefinition with an empty error code
        with pytest.raises(ClientError, match=r"ASLParserException .*line 1:81"):
            sfn.create_state_machine(name=name, definition=broken, roleArn=ROLE)
    assert sfn.list_state_machines()["stateMachines"] == []


def test_executions_of_one_machine_each_run_to_their_own_output(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="m", definition=PASS_THROUGH, roleArn=ROLE)["stateMachineArn"]
    runs = [sfn.start_execution(stateMachineArn=arn, name=f"run-{i}", input="{}")["executionArn"] for i in range(3)]
    for run in runs:
        deadline = time.monotonic() + 30
        while (done := sfn.describe_execution(executionArn=run))["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"n": 1}


def test_task_states_share_one_client_per_service_and_region() -> None:
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    moto_patches.install()
    lambda_client = boto_client_for("us-east-1", "lambda")
    assert boto_client_for("us-east-1", "lambda") is lambda_client
    assert boto_client_for("sa-east-1", "lambda") is not lambda_client
    assert boto_client_for("us-east-1", "glue") is not lambda_client
    assert lambda_client.meta.config.retries["total_max_attempts"] == 1  # moto's own settings, kept


def test_one_2048_bit_signing_key_serves_every_sns_subscription() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto.sns.models import Subscription

    moto_patches.install()
    key = Subscription.private_key(object())  # type: ignore[arg-type]
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert Subscription.private_key(object()) is key  # type: ignore[arg-type]


def test_every_session_reads_botocores_data_through_one_loader_that_reads_a_model_once(moto_env: None) -> None:
    import botocore.loaders
    import botocore.session

    moto_patches.install()
    sessions = [boto3.Session(region_name="us-east-1") for _ in range(3)]
    loaders = {id(s._session.get_component("data_loader")) for s in sessions}
    loader = sessions[0]._session.get_component("data_loader")
    assert loaders == {id(loader)} and botocore.session.Session().get_component("data_loader") is loader
    boto3_data = [p for p in loader.search_paths if p.endswith("boto3/data")]
    assert len(boto3_data) == 1  # appended by each boto3 session, kept once

    read: list[str] = []
    original = botocore.loaders.JSONFileLoader.load_file

    def load_file(self: Any, file_path: str) -> Any:
        read.append(file_path)
        return original(self, file_path)

    s3_model = "botocore/data/s3/2006-03-01/service-2"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)
        with mock_aws():
            for n, session in enumerate([*sessions, boto3.Session(region_name="us-east-1")]):
                s3 = session.client("s3")
                s3.create_bucket(Bucket="one-model")
                assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["one-model"]
                s3.delete_bucket(Bucket="one-model")
                if n == 0:
                    first = len([p for p in read if p.endswith(s3_model)])  # botocore's and moto's own reads
    assert len([p for p in read if p.endswith(s3_model)]) == first  # none for the sessions after the first


def test_s3_requests_reload_moto_s3_urls_only_when_the_custom_endpoints_change(
    moto_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.s3.urls as urls
    from moto.s3.models import S3Backend

    moto_patches.install()
    monkeypatch.delenv("MOTO_S3_CUSTOM_ENDPOINTS", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="reload-check")
        table = urls.url_paths  # reloading runs the module again: a new dict
        for i in range(3):
            s3.put_object(Bucket="reload-check", Key=f"k{i}", Body=b"x")
            assert s3.get_object(Bucket="reload-check", Key=f"k{i}")["Body"].read() == b"x"
        assert urls.url_paths is table

        monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", "https://s3.finlake.internal")
        backend = S3Backend("us-east-1", "123456789012")
        assert "https://s3.finlake.internal" in backend.url_bases and urls.url_paths is not table
        assert s3.list_objects_v2(Bucket="reload-check")["KeyCount"] == 3
    monkeypatch.delenv("MOTO_S3_CUSTOM_ENDPOINTS")
    assert "https://s3.finlake.internal" not in S3Backend("us-east-1", "123456789012").url_bases


def test_moto_frees_each_request_once_answered_without_the_cyclic_collector(
    moto_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any caller's puts (a handler's boto3 client here), bodies included, are freed by reference counting alone;
    werkzeug's own construction leaves every one of them to the cyclic collector."""
    from moto.core.request import Request

    body = os.urandom(256 * 1024)

    def alive() -> int:  # this test's requests only: another thread's are not counted
        return sum(isinstance(o, Request) and "request-cycles" in o.url for o in gc.get_objects())

    moto_patches.install()
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="request-cycles")
        gc.collect()
        before = alive()
        gc.disable()
        try:
            for i in range(24):
                s3.put_object(Bucket="request-cycles", Key=f"k{i}", Body=body)
                assert s3.get_object(Bucket="request-cycles", Key=f"k{i}")["Body"].read() == body
            assert alive() == before == 0
            monkeypatch.setattr(Request, "__init__", moto_patches._original_request_init)
            for i in range(24):
                s3.put_object(Bucket="request-cycles", Key=f"k{i}", Body=body)
            assert alive() - before >= 24
        finally:
            gc.enable()
