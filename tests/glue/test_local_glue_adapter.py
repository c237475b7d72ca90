"""A Glue .sync task of a state machine runs the job's script on local Spark (moto adapters)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from finlake.local.runtime import BUCKETS, EmbeddedAws
from finlake.local.workspace import Workspace
from stacks import specs

pytestmark = pytest.mark.slow

RAW = BUCKETS["RAW_BUCKET"]
DEFINITION = {
    "StartAt": "Transform",
    "States": {
        "Transform": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {
                "JobName": "${TransformJob}",
                "Arguments": {"--input.$": "$.input", "--output.$": "$.output", "--fail.$": "$.fail"},
            },
            "TimeoutSeconds": 300,
            "ResultSelector": {"state.$": "$.JobRunState"},
            "ResultPath": "$.glue",
            "End": True,
        }
    },
}


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> specs.DomainSpec:
    monkeypatch.setattr(specs, "STATEMACHINES_DIR", tmp_path)
    (tmp_path / "gluetest.asl.json").write_text(json.dumps(DEFINITION))
    return specs.DomainSpec(
        name="gluetest",
        description="glue adapter test",
        partition="date",
        schedule="rate(1 day)",
        steps=(specs.GlueStep(step="Transform", script="tests/glue/jobs/count_job.py"),),
    )


def run(tmp_path: Path, spec: specs.DomainSpec, fail: str) -> tuple[object, dict[str, bytes]]:
    with EmbeddedAws(Workspace.open(tmp_path / "ws")) as aws:
        s3 = aws.client("s3")
        lines = [{"kind": "a"}, {"kind": "b"}, {"kind": "a"}]
        s3.put_object(Bucket=RAW, Key="in/rows.json", Body="\n".join(json.dumps(x) for x in lines).encode())
        request = {"input": f"s3://{RAW}/in/", "output": f"s3://{RAW}/out/counts/", "fail": fail}
        result = aws.run(spec, request, f"gluetest-{fail}")
        listing = s3.list_objects_v2(Bucket=RAW, Prefix="out/counts/").get("Contents", [])
        objects = {o["Key"]: s3.get_object(Bucket=RAW, Key=o["Key"])["Body"].read() for o in listing}
    return result, objects


def test_glue_task_runs_the_script_and_its_output_lands_in_the_bucket(tmp_path: Path, spec: specs.DomainSpec):
    result, objects = run(tmp_path, spec, "no")

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["glue"] == {"state": "SUCCEEDED"}
    [part] = [body for key, body in objects.items() if key.endswith(".parquet")]
    assert not [key for key in objects if key.endswith(".crc")]  # Spark wrote through s3://, as on Glue
    assert pq.read_table(io.BytesIO(part)).to_pylist() == [{"kind": "a", "count": 2}, {"kind": "b", "count": 1}]


def test_a_failing_script_fails_the_task_with_its_error(tmp_path: Path, spec: specs.DomainSpec):
    result, objects = run(tmp_path, spec, "yes")

    assert result.status == "FAILED"
    assert result.error == "States.TaskFailed"
    assert "ValueError: asked to fail" in result.cause
    assert objects == {}
