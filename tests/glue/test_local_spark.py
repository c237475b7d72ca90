"""The local SparkSession writes the workspace through `NioLocalFileSystem`: the same files, no chmod process each.

Hadoop's local file system forks ``chmod`` for every file and folder it creates when its native library is absent
(PySpark ships none): about 3 ms each, most of a small partition's write (BENCHMARKS.md).
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from finlake.local import glue as local_glue

pytestmark = pytest.mark.slow


def test_the_session_writes_partitions_with_hadoops_permissions_and_no_checksum_files(tmp_path: Path):
    spark = local_glue.local_spark()
    # This machine and CI have a JDK: a session without the class would pass the rest of this test, more slowly.
    assert spark.sparkContext._jsc.hadoopConfiguration().get("fs.file.impl") == local_glue.LOCAL_FS_CLASS

    spark.range(6).selectExpr("id", "id % 2 AS k").write.partitionBy("k").parquet(f"{tmp_path.as_uri()}/t")

    written = list((tmp_path / "t").rglob("*"))
    folders = [p for p in written if p.is_dir()]
    files = [p for p in written if p.is_file()]
    assert sorted(p.name for p in folders) == ["k=0", "k=1"]
    assert not [p for p in files if p.name.endswith(".crc")]  # a raw file system: S3 holds no side files either
    # Hadoop's defaults under its umask 022, set by java.nio rather than a chmod process
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o755}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}
    assert spark.read.parquet(f"{tmp_path.as_uri()}/t").count() == 6


def test_the_jar_is_built_once_per_source_and_none_without_a_jdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    jar = local_glue._local_fs_jar()
    assert jar is not None and jar.parent == tmp_path / "finlake"
    assert "finlake/local/NioLocalFileSystem.class" in zipfile.ZipFile(jar).namelist()
    built = jar.stat().st_mtime_ns
    assert local_glue._local_fs_jar() == jar and jar.stat().st_mtime_ns == built  # cached, not rebuilt
    assert [p.name for p in (tmp_path / "finlake").iterdir()] == [jar.name]  # no build folder left

    monkeypatch.setattr(local_glue.shutil, "which", lambda name: None)
    assert local_glue._local_fs_jar() is None  # Spark then uses Hadoop's RawLocalFileSystem
