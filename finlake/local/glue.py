"""Glue jobs on a local SparkSession, for the embedded AWS.

A Glue script of this project exposes ``run(spark, args) -> dict`` (the job's work, with
``args`` holding the job arguments without their ``--``) and a ``main()`` that builds the
GlueContext in AWS. Locally, when a state machine starts a job run, `LocalGlueRunner`:

1. writes moto's buckets to the workspace folder (``.finlake/s3/<bucket>/...``),
2. maps every ``s3://<bucket>/...`` argument to that folder (``file://.../s3/<bucket>/...``),
3. imports the job's script (its ``ScriptLocation``) and calls ``run`` on a local SparkSession,
4. loads what the job wrote back into moto's buckets.

Spark reads and writes the same Parquet layout it would on S3; only the URI scheme differs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from stacks.specs import ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finlake.local.runtime import EmbeddedAws

_spark: SparkSession | None = None


def local_spark() -> SparkSession:
    """One local SparkSession per process, configured like Glue 5.0 where it matters."""
    global _spark
    if _spark is None:
        from pyspark.sql import SparkSession

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        log_config = Path(__file__).with_name("log4j2.properties").as_uri()
        _spark = (
            SparkSession.builder.master("local[2]")
            .appName("finlake-local-glue")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config}")
            .config("spark.driver.memory", "2g")
            # The UI is off but its listeners still keep every job, stage and SQL plan of the session in the
            # driver (1000 SQL executions by default). One session serves every local run of a process
            # (the demo, the suite): keep few, or the analytics' large plans fill the heap.
            .config("spark.sql.ui.retainedExecutions", "20")
            .config("spark.ui.retainedJobs", "50")
            .config("spark.ui.retainedStages", "50")
            .config("spark.ui.retainedTasks", "2000")
            .config("spark.ui.dagGraph.retainedRootRDDs", "50")
            .config("spark.sql.parquet.compression.codec", "zstd")
            # list partition folders on the driver: a local job lists hundreds of small folders
            .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
            .getOrCreate()
        )
        _spark.sparkContext.setLogLevel("ERROR")
    return _spark


def load_script(location: str) -> ModuleType:
    path = Path(location) if Path(location).is_absolute() else ROOT / location
    name = f"finlake_glue_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"Glue script not found: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class LocalGlueRunner:
    def __init__(self, aws: EmbeddedAws):
        self.aws = aws

    def local_uri(self, value: str) -> str:
        """``s3://bucket/key`` -> ``file://<workspace>/s3/bucket/key``; a comma-separated list of
        S3 URIs (several input files) is mapped element by element."""
        if "," in value and all(part.startswith("s3://") for part in value.split(",")):
            return ",".join(self.local_uri(part) for part in value.split(","))
        if not value.startswith("s3://"):
            return value
        bucket, _, key = value[5:].partition("/")
        return self.aws.workspace.object_path(bucket, key).as_uri() + ("/" if value.endswith("/") else "")

    def __call__(self, job_name: str, arguments: dict[str, str]) -> None:
        job = self.aws.client("glue").get_job(JobName=job_name)["Job"]
        script = load_script(job["Command"]["ScriptLocation"])
        args: dict[str, Any] = {k.removeprefix("--"): self.local_uri(v) for k, v in arguments.items()}
        self.aws.save_workspace()
        try:
            script.run(local_spark(), args)
        finally:
            self.aws.load_objects_from_workspace()
