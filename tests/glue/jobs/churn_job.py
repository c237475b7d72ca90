"""A Glue script that changes the lake the ways real jobs do, used to test the local runner's moto <-> folder sync.

It works on the workspace folder directly (``--folder``, the raw bucket's folder) instead of through Spark: what the
sync sees is the same files a Spark job leaves, including Hadoop's ``.crc`` side files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3


def run(spark: Any, args: dict[str, str]) -> dict[str, int]:
    folder = Path(args["folder"])
    (folder / "data/changed.txt").write_bytes(b"changed by the job")
    (folder / "data/deleted.txt").unlink()
    (folder / "data/same.txt").write_bytes((folder / "data/same.txt").read_bytes())  # rewritten, same bytes
    (folder / "out/part-0.parquet").parent.mkdir(parents=True, exist_ok=True)
    (folder / "out/part-0.parquet").write_bytes(b"PAR1 new")
    (folder / "out/.part-0.parquet.crc").write_bytes(b"crc")
    boto3.client("s3").put_object(
        Bucket=args["bucket"], Key="report/summary.json", Body=b"{}", Metadata={"written-by": "boto3"}
    )
    return {}
