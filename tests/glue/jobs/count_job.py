"""A minimal Glue script in the project's convention, used to test the local Glue adapter."""

from __future__ import annotations

from typing import Any


def run(spark: Any, args: dict[str, str]) -> dict[str, int]:
    if args.get("fail") == "yes":
        raise ValueError("asked to fail")
    frame = spark.read.json(args["input"])
    counts = frame.groupBy("kind").count().orderBy("kind")
    counts.coalesce(1).write.mode("overwrite").parquet(args["output"])
    return {"rows": frame.count()}
