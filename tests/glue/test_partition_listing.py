"""`glue_io.partition_values` on local Spark: the ``<column>=<value>`` folders of one listing, read in a few py4j calls.

Through ``file://`` and through the local runner's ``s3://`` mount (whose statuses describe themselves with empty
fields), beside a file named like a partition, ``_SUCCESS``, Spark's temporary folder, a hidden folder and another
column's folder; and `glue_io.folder_names` on the descriptions Hadoop's file systems give.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from finlake.local.glue import local_spark, mount_workspace
from glue.lib import glue_io

pytestmark = pytest.mark.slow

DAYS = [str(date(2024, 1, 1) + timedelta(days=k)) for k in range(200)]


def _table(root: Path) -> Path:
    table = root / "lake" / "curated" / "b3_quotes"
    for day in DAYS:
        (table / f"dt_ref={day}").mkdir(parents=True)
    (table / "dt_ref=2099-01-01").write_bytes(b"")  # a file named like a partition is not one
    (table / "_SUCCESS").write_bytes(b"")
    for folder in ("_temporary", ".dt_ref=2098-01-01", "series=cdi_daily"):
        (table / folder).mkdir()
    return table


def _sent(spark: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    client = spark.sparkContext._gateway._gateway_client
    sent: list[str] = []
    send = client.send_command
    monkeypatch.setattr(
        client, "send_command", lambda command, *args, **kwargs: sent.append(command) or send(command, *args, **kwargs)
    )
    return sent


def test_the_values_are_the_folders_of_one_listing_read_in_a_few_py4j_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    table = _table(tmp_path)
    spark = local_spark()
    mount_workspace(spark, tmp_path, ["lake"])
    for uri in (table.as_uri() + "/", "s3://lake/curated/b3_quotes/"):
        sent = _sent(spark, monkeypatch)
        assert glue_io.partition_values(spark, uri, "dt_ref") == DAYS, uri
        # one round trip per status would be about 1,200 (six each: the element, isDirectory, getPath, getName and
        # the release of two proxies)
        assert len(sent) < 30, (uri, len(sent))
        monkeypatch.undo()
    assert glue_io.partition_values(spark, "s3://lake/curated/absent/", "dt_ref") == []
    assert glue_io.partition_values(spark, (tmp_path / "absent").as_uri() + "/", "dt_ref") == []


def test_statuses_that_do_not_describe_themselves_are_asked_one_by_one(tmp_path: Path):
    """The mount's own statuses (a ViewFsFileStatus prints ``path=null; isDirectory=false``): the same folders."""
    table = _table(tmp_path)
    spark = local_spark()
    mount_workspace(spark, tmp_path, ["lake"])
    fs, path = glue_io.fs_path(spark, "s3://lake/curated/b3_quotes/")
    statuses = fs.listStatus(path)
    described = [str(status.toString()) for status in statuses]
    assert any("{path=null; isDirectory=false;" in text for text in described)
    expected = sorted(p.name for p in table.iterdir() if p.is_dir())
    assert sorted(glue_io.folder_names(spark, statuses)) == expected


def test_folders_are_read_from_descriptions_that_start_with_their_exact_path():
    folder = "s3a://lake/curated/b3_quotes/dt_ref=2024-01-02"
    file = "s3a://lake/curated/b3_quotes/_SUCCESS"
    # Hadoop's FileStatus description, which S3A's extends (S3AFileStatus: "... isEmptyDirectory=... eTag=...")
    described = [
        f"S3AFileStatus{{path={folder}; isDirectory=true; modification_time=0; access_time=0; owner=glue; "
        "group=glue; permission=rwxrwxrwx; isSymlink=false; hasAcl=false; isEncrypted=true; isErasureCoded=false} "
        "isEmptyDirectory=UNKNOWN eTag=null versionId=null",
        f"FileStatus{{path={file}; isDirectory=false; length=0; replication=1; blocksize=33554432; "
        "modification_time=0; access_time=0; owner=glue; group=glue; permission=rw-rw-rw-; isSymlink=false}",
    ]
    assert glue_io._folders_described([folder, file], described) == ["dt_ref=2024-01-02"]
    # a description of another path, another layout, or a name that carries "; isDirectory=true": not read
    assert glue_io._folders_described([file], [described[0]]) is None
    assert glue_io._folders_described([folder], [f"Status[{folder}, dir]"]) is None
    odd = "s3a://lake/t/x; isDirectory=true"
    assert glue_io._folders_described([odd], [f"FileStatus{{path={odd}; isDirectory=false; length=0}}"]) == []


def test_read_partitions_reads_the_asked_folders_through_one_glob_or_path_by_path(tmp_path: Path):
    spark = local_spark()
    mount_workspace(spark, tmp_path, ["lake"])
    rows = [(k, f"2024-01-{k:02d}", "a,b" if k == 9 else "x") for k in range(1, 10)]
    frame = spark.createDataFrame(rows, "n INT, dt_ref STRING, tag STRING")
    frame.write.partitionBy("dt_ref").parquet((tmp_path / "lake/t").as_uri())
    frame.write.partitionBy("tag").parquet((tmp_path / "lake/u").as_uri())
    for uri in ((tmp_path / "lake/t").as_uri() + "/", "s3://lake/t/"):
        read = glue_io.read_partitions(spark, uri, "dt_ref", ["2024-01-02", "2024-01-05"], "n INT, dt_ref DATE")
        assert sorted(tuple(r) for r in read.collect()) == [(2, date(2024, 1, 2)), (5, date(2024, 1, 5))], uri
    # a value with a glob character (a comma) is read on its own path
    read = glue_io.read_partitions(spark, "s3://lake/u/", "tag", ["a,b"], "n INT, tag STRING")
    assert [tuple(r) for r in read.collect()] == [(9, "a,b")]
