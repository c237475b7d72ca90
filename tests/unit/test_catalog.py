"""functions.common.catalog.register against moto's Glue: only the run's partitions are asked for, in
BatchGetPartition calls of at most 1,000, and keys Glue leaves unprocessed are asked again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.common import catalog
from functions.common.catalog import register
from functions.common.lake import Lake
from functions.common.tables import Table

TABLE = Table(
    name="quotes",
    zone="curated",
    columns={"ticker": "string", "close": "double"},
    partition=("dt_ref", "date"),
    description="test table",
)
LAKE = Lake("raw", "curated", "refined", curated_database="db_curated", refined_database="db_refined")


@pytest.fixture
def glue(moto_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("glue", region_name="us-east-1")
        client.create_database(DatabaseInput={"Name": "db_curated"})
        yield client


class Recording:
    """A Glue client that records BatchGetPartition calls and can leave the first ``unprocessed`` calls' keys
    unprocessed, as Glue does when throttled."""

    def __init__(self, glue: Any, unprocessed: int = 0) -> None:
        self.glue, self.unprocessed, self.asked = glue, unprocessed, []

    def batch_get_partition(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append([k["Values"][0] for k in kwargs["PartitionsToGet"]])
        if self.unprocessed:
            self.unprocessed -= 1
            return {"Partitions": [], "UnprocessedKeys": kwargs["PartitionsToGet"]}
        return dict(self.glue.batch_get_partition(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.glue, name)


def _days(n: int) -> list[str]:
    return [(date(2020, 1, 1) + timedelta(days=i)).isoformat() for i in range(n)]


def _registered(glue: Any) -> list[str]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName="db_curated", TableName="quotes")
    return sorted(p["Values"][0] for page in pages for p in page["Partitions"])


def test_only_the_runs_partitions_are_asked_for_a_thousand_a_call_and_each_is_added_once(glue: Any) -> None:
    first = Recording(glue)
    register(first, TABLE, lake=LAKE, values=_days(1005))
    assert [len(call) for call in first.asked] == [1000, 5]
    assert _registered(glue) == _days(1005)

    again = Recording(glue)
    written = register(again, TABLE, lake=LAKE, values=[*_days(1007)[-3:], _days(1)[0]])
    assert sorted(again.asked[0]) == sorted([*_days(1007)[-3:], _days(1)[0]])  # not the table's 1,005
    assert written.values == sorted([*_days(1007)[-3:], _days(1)[0]])
    assert _registered(glue) == _days(1007)


def test_keys_left_unprocessed_are_asked_again(glue: Any) -> None:
    register(glue, TABLE, lake=LAKE, values=_days(2))
    throttled = Recording(glue, unprocessed=2)
    register(throttled, TABLE, lake=LAKE, values=_days(3))
    assert throttled.asked == [_days(3)] * 3
    assert _registered(glue) == _days(3)


def test_keys_still_unprocessed_after_the_retries_fail_the_step(glue: Any) -> None:
    throttled = Recording(glue, unprocessed=catalog.UNPROCESSED_RETRIES + 1)
    with pytest.raises(RuntimeError, match=r"db_curated\.quotes: Glue left 2 partition"):
        register(throttled, TABLE, lake=LAKE, values=_days(2))
    assert len(throttled.asked) == catalog.UNPROCESSED_RETRIES + 1
