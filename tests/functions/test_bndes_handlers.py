"""The BNDES Lambda handlers on moto, called as the Lambda service calls them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from finlake.samples.bndes import write_bndes_cassette
from functions.bndes import handlers
from functions.common.http import SourceUnavailable
from tests.conftest import load_event

BUCKETS = {"RAW_BUCKET": "raw", "CURATED_BUCKET": "curated", "REFINED_BUCKET": "refined"}


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **BUCKETS,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "FINLAKE_HTTP_CASSETTE": str(write_bndes_cassette(tmp_path / "c")),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
        boto3.client("glue").create_database(DatabaseInput={"Name": "finlake_curated"})
        yield env


def test_fetch_stores_each_resource_as_received_with_its_provenance(lake, lambda_context):
    manifest = handlers.fetch(load_event("bndes_fetch.json"), lambda_context)

    assert manifest["new_data"] is True
    assert manifest["partition"] == {"dt": "2026-11-22"}
    source = manifest["sources"][0]
    key = source["uri"].removeprefix("s3://raw/")
    assert key == f"bndes/balanco-patrimonial/{source['resource_id']}/{source['md5']}.csv"
    obj = boto3.client("s3").head_object(Bucket="raw", Key=key)
    assert obj["Metadata"]["md5"] == source["md5"]
    assert obj["Metadata"]["source-url"] == source["source_url"]
    assert obj["Metadata"]["fetched-at"]


def test_fetch_offline_without_a_recorded_response_fails_clearly(lake, lambda_context, monkeypatch, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "index.json").write_text("{}")
    monkeypatch.setenv("FINLAKE_HTTP_CASSETTE", str(tmp_path / "empty"))

    with pytest.raises(SourceUnavailable, match=r"no recorded response for https://dadosabertos\.bndes\.gov\.br"):
        handlers.fetch(load_event("bndes_fetch.json"), lambda_context)


def test_the_four_handlers_chain_into_a_registered_table(lake, lambda_context):
    manifest = handlers.fetch(load_event("bndes_fetch.json"), lambda_context)
    for step in (handlers.validate, handlers.transform, handlers.catalog):
        manifest = step(manifest, lambda_context)

    glue = boto3.client("glue")
    parts = glue.get_partitions(DatabaseName="finlake_curated", TableName="bndes_balance_sheet")["Partitions"]
    assert len(parts) == len(manifest["partitions_written"]) == 20
    assert manifest["counts"]["rows_in"] == manifest["counts"]["rows_valid"] == 80
    assert "Values written: 1140 in 20 partitions" in manifest["summary"]
