"""The embedded AWS keeps moto's buckets and the workspace folder equal, moving only what changed.

A Glue job reads and writes the folder while the rest of a run uses moto; `LocalGlueRunner` syncs the two before and
after the job. Spark is left out here (the job script writes the folder as a Spark job would, `.crc` side files
included): what is tested is the sync.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from finlake.local import glue as local_glue
from finlake.local import moto_patches
from finlake.local.runtime import BUCKETS, DATABASES, EmbeddedAws
from finlake.local.workspace import Workspace

RAW = BUCKETS["RAW_BUCKET"]
CHURN_JOB = "tests/glue/jobs/churn_job.py"


def moto_objects(aws: EmbeddedAws) -> dict[tuple[str, str], tuple[bytes, dict[str, str]]]:
    s3 = aws.client("s3")
    found = {}
    for bucket in BUCKETS.values():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=obj["Key"])
                found[(bucket, obj["Key"])] = (got["Body"].read(), got["Metadata"])
    return found


def folder_objects(ws: Workspace) -> dict[tuple[str, str], tuple[bytes, dict[str, str]]]:
    metadata = ws.read_json("s3-metadata.json", {})
    return {(b, k): (p.read_bytes(), metadata.get(f"{b}/{k}", {})) for b, k, p in ws.iter_objects()}


def versions(aws: EmbeddedAws, key: str) -> int:
    return len(aws.client("s3").list_object_versions(Bucket=RAW, Prefix=key).get("Versions", []))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace.open(tmp_path / "ws")
    for key, body in {
        "data/changed.txt": b"before",
        "data/deleted.txt": b"gone soon",
        "data/same.txt": b"same",
    }.items():
        ws.object_path(RAW, key).parent.mkdir(parents=True, exist_ok=True)
        ws.object_path(RAW, key).write_bytes(body)
    ws.object_path(RAW, "data/untouched.txt").write_bytes(b"untouched")
    ws.write_json("s3-metadata.json", {f"{RAW}/data/untouched.txt": {"source": "sample"}})
    return ws


@pytest.fixture
def no_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_glue, "local_spark", lambda log_path=None: None)
    monkeypatch.setattr(local_glue, "mount_workspace", lambda spark, s3_dir, buckets: None)


def run_churn_job(aws: EmbeddedAws, ws: Workspace) -> None:
    aws.client("glue").create_job(
        Name="churn", Role=aws.role_arn, Command={"Name": "glueetl", "ScriptLocation": CHURN_JOB}
    )
    local_glue.LocalGlueRunner(aws)("churn", {"--folder": str(ws.s3_dir / RAW), "--bucket": RAW})


def test_a_job_that_adds_changes_and_deletes_leaves_moto_equal_to_the_folder(ws: Workspace, no_spark: None):
    with EmbeddedAws(ws) as aws:
        aws.client("s3").put_object(Bucket=RAW, Key="inbox/new.csv", Body=b"a;b", Metadata={"sha256": "x"})
        run_churn_job(aws, ws)
        after_job = moto_objects(aws)
        metadata = ws.read_json("s3-metadata.json", {})
        kept = {key: versions(aws, key) for key in ("data/untouched.txt", "data/same.txt", "inbox/new.csv")}

    assert after_job == folder_objects(ws)
    assert {key for _, key in after_job} == {
        "data/changed.txt",
        "data/same.txt",
        "data/untouched.txt",
        "inbox/new.csv",
        "out/part-0.parquet",
        "report/summary.json",
    }
    assert after_job[(RAW, "data/changed.txt")] == (b"changed by the job", {})
    assert after_job[(RAW, "report/summary.json")] == (b"{}", {"written-by": "boto3"})  # the script's boto3 put
    assert after_job[(RAW, "data/untouched.txt")] == (b"untouched", {"source": "sample"})
    assert metadata == {
        f"{RAW}/data/untouched.txt": {"source": "sample"},
        f"{RAW}/inbox/new.csv": {"sha256": "x"},
        f"{RAW}/report/summary.json": {"written-by": "boto3"},
    }
    assert kept == {"data/untouched.txt": 1, "data/same.txt": 1, "inbox/new.csv": 1}  # no new version
    assert not list(ws.s3_dir.rglob("*.crc"))  # never in moto, so the session's save removed them


def test_syncs_with_nothing_changed_put_nothing(ws: Workspace):
    with EmbeddedAws(ws) as aws:
        for _ in range(2):  # what the runner does around two jobs that changed nothing
            aws.save_workspace()
            aws.load_objects_from_workspace()
        counts = {key: versions(aws, key) for _, key, _ in ws.iter_objects()}

    assert counts == dict.fromkeys(counts, 1) and len(counts) == 4


def test_save_writes_what_moto_changed_and_restores_what_the_folder_changed(ws: Workspace):
    with EmbeddedAws(ws) as aws:
        s3 = aws.client("s3")
        # The same bytes with new metadata: only the version says it changed.
        s3.put_object(Bucket=RAW, Key="data/same.txt", Body=b"same", Metadata={"fetched": "2026-11-30"})
        s3.delete_object(Bucket=RAW, Key="data/deleted.txt")
        ws.object_path(RAW, "data/untouched.txt").write_bytes(b"edited outside moto")
        ws.object_path(RAW, "stray.txt").write_bytes(b"not in moto")
        aws.save_workspace()
        saved = folder_objects(ws)
        in_moto = moto_objects(aws)

    assert saved == in_moto
    assert saved[(RAW, "data/same.txt")] == (b"same", {"fetched": "2026-11-30"})
    assert saved[(RAW, "data/untouched.txt")] == (b"untouched", {"source": "sample"})
    assert (RAW, "data/deleted.txt") not in saved and (RAW, "stray.txt") not in saved
    assert (ws.root / "catalog.json").exists()


def test_a_new_session_loads_what_the_last_one_saved(ws: Workspace, no_spark: None):
    with EmbeddedAws(ws) as aws:
        run_churn_job(aws, ws)
        first = moto_objects(aws)
    with EmbeddedAws(ws) as aws:
        second = moto_objects(aws)

    assert first == second


def test_a_same_size_rewrite_that_keeps_its_mtime_is_still_put(ws: Workspace):
    """``cp -p``, rsync or a coarse clock leave size and mtime as they were: ctime and inode still change."""
    with EmbeddedAws(ws) as aws:
        aws.save_workspace()
        path = ws.object_path(RAW, "data/changed.txt")
        before = path.stat()
        replacement = path.with_name("changed.tmp")
        replacement.write_bytes(b"AFTER!")  # the same six bytes' length
        os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
        replacement.replace(path)  # as Hadoop's commit does: a rename into place
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        aws.load_objects_from_workspace()
        body = aws.client("s3").get_object(Bucket=RAW, Key="data/changed.txt")["Body"].read()

    assert body == b"AFTER!"


def catalog_through_the_api(aws: EmbeddedAws) -> dict[str, dict[str, Any]]:
    """The catalog as GetTables and GetPartitions answer it (what `EmbeddedAws.catalog` read before it read moto's
    backend)."""
    glue = aws.client("glue")
    result: dict[str, dict[str, Any]] = {}
    for database in DATABASES.values():
        result[database] = {}
        for table in glue.get_tables(DatabaseName=database)["TableList"]:
            pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table["Name"])
            partitions = [
                {k: p[k] for k in ("Values", "StorageDescriptor", "Parameters") if k in p}
                for page in pages
                for p in page["Partitions"]
            ]
            fields = ("Name", "Description", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")
            table_input = {k: table[k] for k in fields if k in table}
            result[database][table["Name"]] = {"table": table_input, "partitions": partitions}
    return result


def test_the_saved_catalog_is_what_glue_answers_and_a_new_session_loads_it(ws: Workspace):
    """Tables as created, then updated (a second version); partitions created in a batch, one moved to other values
    and one given new parameters; a table without partitions; names out of alphabetical order."""
    curated = DATABASES["CURATED_DATABASE"]
    columns = [{"Name": "close", "Type": "decimal(18,2)"}, {"Name": "ticker", "Type": "string"}]

    def descriptor(location: str) -> dict[str, Any]:
        return {
            "Columns": columns,
            "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
            "Compressed": False,
            "NumberOfBuckets": -1,
        }

    with EmbeddedAws(ws) as aws:
        glue = aws.client("glue")
        for name in ("zeta_quotes", "alpha_series"):
            glue.create_table(
                DatabaseName=curated,
                TableInput={
                    "Name": name,
                    "Description": f"{name}, version 1",
                    "StorageDescriptor": descriptor(f"s3://bucket/{name}/"),
                    "PartitionKeys": [{"Name": "dt_ref", "Type": "date"}],
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": {"classification": "parquet"},
                },
            )
        glue.update_table(
            DatabaseName=curated,
            TableInput={
                "Name": "zeta_quotes",
                "Description": "version 2",
                "StorageDescriptor": descriptor("s3://bucket/zeta_quotes/"),
                "PartitionKeys": [{"Name": "dt_ref", "Type": "date"}],
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "parquet", "finlake.run_id": "r2"},
            },
        )
        days = ["2024-01-02", "2024-01-03", "2024-01-04"]
        glue.batch_create_partition(
            DatabaseName=curated,
            TableName="zeta_quotes",
            PartitionInputList=[
                {"Values": [d], "StorageDescriptor": descriptor(f"s3://bucket/zeta_quotes/dt_ref={d}/")} for d in days
            ],
        )
        glue.update_partition(
            DatabaseName=curated,
            TableName="zeta_quotes",
            PartitionValueList=[days[0]],
            PartitionInput={"Values": ["2024-01-01"], "StorageDescriptor": descriptor("s3://bucket/moved/")},
        )
        glue.update_partition(
            DatabaseName=curated,
            TableName="zeta_quotes",
            PartitionValueList=[days[1]],
            PartitionInput={
                "Values": [days[1]],
                "StorageDescriptor": descriptor(f"s3://bucket/zeta_quotes/dt_ref={days[1]}/"),
                "Parameters": {"rows": "3"},
            },
        )
        answered = catalog_through_the_api(aws)
        assert aws.catalog() == answered
        zeta = answered[curated]["zeta_quotes"]
        assert zeta["table"]["Description"] == "version 2" and answered[curated]["alpha_series"]["partitions"] == []
        assert {(p["Values"][0], p.get("Parameters", {}).get("rows")) for p in zeta["partitions"]} == {
            ("2024-01-01", None),
            (days[1], "3"),
            (days[2], None),
        }
    assert ws.read_json("catalog.json", {}) == answered
    with EmbeddedAws(ws) as aws:
        assert catalog_through_the_api(aws) == answered


def test_the_embedded_aws_puts_leave_no_moto_request_for_the_collector(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The embedded AWS installs moto adapter 9: its inputs leave none of moto's requests (each holding a put's body)
    waiting for the cyclic collector, here switched off. Its workspace sync makes no request at all (it puts into
    moto's S3 backend), and leaves none either."""
    from moto.core.request import Request

    def waiting() -> int:  # this test's puts only: another thread's requests are not counted
        return sum(isinstance(o, Request) and "cycle-check" in o.path for o in gc.get_objects())

    size = 256 * 1024
    files = tmp_path / "inputs"
    files.mkdir()
    with EmbeddedAws(ws) as aws:
        gc.collect()
        before = waiting()
        gc.disable()
        try:
            for i in range(24):
                path = files / f"cycle-check-{i}.bin"
                path.write_bytes(os.urandom(size))
                aws.put_input("stocks", path)
            assert waiting() == before == 0
            data = ws.s3_dir / BUCKETS["CURATED_BUCKET"] / "cycle-check" / "part.bin"
            data.parent.mkdir(parents=True, exist_ok=True)
            data.write_bytes(os.urandom(size))
            aws.load_objects_from_workspace()
            assert waiting() == before
            monkeypatch.setattr(Request, "__init__", moto_patches._original_request_init)
            for i in range(24):  # werkzeug's own construction leaves every one to the collector
                aws.put_input("stocks", files / f"cycle-check-{i}.bin")
            assert waiting() >= 24
        finally:
            gc.enable()


def test_an_object_restored_from_the_folder_answers_as_one_put_through_the_api(ws: Workspace):
    """The sync puts into moto's S3 backend directly (`EmbeddedAws._push`): GetObject answers for the restored object
    what it answers for the same bytes and user metadata put through boto3 (body, ETag, length, type, metadata, one
    version). Not kept: the CRC32 checksum botocore sends with a put (no finlake code reads a checksum)."""
    fields = ("ContentLength", "ContentType", "ETag", "Metadata")
    with EmbeddedAws(ws) as aws:
        s3 = aws.client("s3")
        s3.put_object(Bucket=RAW, Key="api/untouched.txt", Body=b"untouched", Metadata={"source": "sample"})
        answers = [
            {**{f: got[f] for f in fields}, "Body": got["Body"].read(), "versions": versions(aws, key)}
            for key in ("data/untouched.txt", "api/untouched.txt")
            for got in [s3.get_object(Bucket=RAW, Key=key)]
        ]

    assert answers[0] == answers[1]
    assert answers[0]["Body"] == b"untouched" and answers[0]["Metadata"] == {"source": "sample"}
    assert answers[0]["versions"] == 1
