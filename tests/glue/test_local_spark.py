"""The local SparkSession writes the workspace through `NioLocalFileSystem`: the same files, no chmod process each.

Hadoop's local file system forks ``chmod`` for every file and folder it creates when its native library is absent
(PySpark ships none): about 3 ms each, most of a small partition's write (docs/decisions/0022-fast-local-loop.md).
Its py4j gateway keeps what a name resolves to instead of asking the JVM again, and its Python workers (this
interpreter) read the zips on their path once per archive version instead of once per task.
"""

from __future__ import annotations

import logging
import stat
import sys
import zipfile
import zipimport
from pathlib import Path
from typing import Any

import pytest

from finlake.local import glue as local_glue

pytestmark = pytest.mark.slow


def test_the_session_writes_partitions_with_hadoops_permissions_and_no_checksum_files(tmp_path: Path):
    spark = local_glue.local_spark()
    jvm, conf = spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()
    # The instance Hadoop hands out for file:// (the s3:// mount's folders resolve through it), not only the setting.
    # This machine and CI have a JDK: without the jar the rest of this test passes, more slowly.
    local = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf)
    assert local.getClass().getName() == local_glue.LOCAL_FS_CLASS
    assert jvm.org.apache.hadoop.fs.FileSystem.getLocal(conf).getClass().getName() == local_glue.LOCAL_FS_CLASS

    spark.range(6).selectExpr("id", "id % 2 AS k").write.partitionBy("k").parquet(f"{tmp_path.as_uri()}/t")

    written = list((tmp_path / "t").rglob("*"))
    folders = [p for p in written if p.is_dir()]
    files = [p for p in written if p.is_file()]
    assert sorted(p.name for p in folders) == ["k=0", "k=1"]
    assert not [p for p in files if p.name.endswith(".crc")]  # S3 holds no side files either
    # Hadoop's defaults under its umask 022, set by java.nio rather than a chmod process
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o755}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}
    assert spark.read.parquet(f"{tmp_path.as_uri()}/t").count() == 6


def test_py4j_keeps_the_classes_and_methods_it_finds_by_name_and_asks_for_static_fields_each_time(
    monkeypatch: pytest.MonkeyPatch,
):
    from py4j.protocol import Py4JError
    from pyspark.sql import functions as F

    spark = local_glue.local_spark()
    jvm = spark.sparkContext._jvm
    client = spark.sparkContext._gateway._gateway_client
    sent: list[str] = []
    send = client.send_command
    monkeypatch.setattr(
        client, "send_command", lambda command, *args, **kwargs: sent.append(command) or send(command, *args, **kwargs)
    )

    def lookups() -> list[str]:
        return [c for c in sent if c.startswith("r\n")]  # py4j's reflection commands: names sent to the JVM

    def query() -> list[Any]:
        return spark.range(3).select(F.col("id"), F.lit(1), F.when(F.col("id") > 0, "yes")).collect()

    first = query()  # finds functions, col, lit and when (unless another test did already)
    sent.clear()
    assert query() == first == [(0, 1, None), (1, 1, "yes"), (2, 1, "yes")]
    assert lookups() == []  # calls only: no name is sent again
    assert jvm.functions is jvm.functions and jvm.functions.col is jvm.functions.col
    assert jvm.org.apache.spark.sql.functions is jvm.org.apache.spark.sql.functions

    for _ in range(2):  # a field is a value: read each time
        assert jvm.java.lang.Integer.MAX_VALUE == 2147483647
    assert len([c for c in lookups() if "MAX_VALUE" in c]) == 2
    for _ in range(2):  # a member not found is asked for again, never kept
        with pytest.raises(Py4JError, match="does not exist"):
            assert jvm.java.lang.Integer.noSuchMember is None
    assert len([c for c in lookups() if "noSuchMember" in c]) == 2
    for _ in range(2):  # py4j answers "package" for a name it cannot resolve: a capitalized one may be a class later
        assert type(jvm.NoSuchClass).__name__ == type(jvm.java.lang.NoSuchClass).__name__ == "JavaPackage"
    assert len([c for c in lookups() if "NoSuchClass" in c]) == 4
    assert jvm.java is jvm.java and jvm.java.lang is jvm.java.lang  # packages (lower case) are kept


def test_the_jar_is_built_once_per_source_and_none_without_a_jdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    jar = local_glue._local_fs_jar()
    assert jar is not None and jar.parent == tmp_path / "finlake"
    names = zipfile.ZipFile(jar).namelist()
    assert {"finlake/local/NioLocalFileSystem.class", "finlake/local/NioLocalFileSystem$Raw.class"} <= set(names)
    built = jar.stat().st_mtime_ns
    assert local_glue._local_fs_jar() == jar and jar.stat().st_mtime_ns == built  # cached, not rebuilt
    assert [p.name for p in (tmp_path / "finlake").iterdir()] == [jar.name]  # no build folder left

    monkeypatch.setattr(local_glue.shutil, "which", lambda name: None)
    assert local_glue._local_fs_jar() is None  # Spark then keeps Hadoop's own local file system


def test_a_failed_build_or_an_unwritable_cache_falls_back_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    broken = tmp_path / "NioLocalFileSystem.java"
    broken.write_text("package finlake.local; public class NioLocalFileSystem extends Missing {}\n")
    monkeypatch.setattr(local_glue, "LOCAL_FS_SOURCE", broken)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger=local_glue.__name__):
        assert local_glue._local_fs_jar() is None
    assert "javac failed" in caplog.text and "Missing" in caplog.text
    assert list((tmp_path / "cache" / "finlake").iterdir()) == []  # no jar, no build folder

    monkeypatch.setattr(local_glue, "LOCAL_FS_SOURCE", Path(local_glue.__file__).with_name("NioLocalFileSystem.java"))
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))  # a cache folder that can't be made
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=local_glue.__name__):
        assert local_glue._local_fs_jar() is None
    assert "building finlake.local.NioLocalFileSystem failed" in caplog.text


def test_python_tasks_run_this_interpreter_in_finlakes_daemon():
    spark = local_glue.local_spark()

    def seen(_: Any) -> tuple[str, str]:
        import sys
        import zipimport

        return sys.executable, zipimport.zipimporter.invalidate_caches.__name__

    # Two tasks: each worker task calls importlib.invalidate_caches() (pyspark/worker.py)
    assert set(spark.sparkContext.parallelize(range(2), 2).map(seen).collect()) == {
        (sys.executable, "_invalidate_if_changed")
    }


def test_a_zip_directory_is_read_again_only_when_the_archive_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from finlake.local import pyspark_daemon

    archive = tmp_path / "lib.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.py", "A = 1\n")
    importer = zipimport.zipimporter(str(archive))
    reads: list[str] = []
    read = zipimport._read_directory  # type: ignore[attr-defined]
    monkeypatch.setattr(zipimport, "_read_directory", lambda path: reads.append(path) or read(path))

    for _ in range(3):
        pyspark_daemon._invalidate_if_changed(importer)
    assert reads == [str(archive)]  # the first call reads, the next two keep it

    with zipfile.ZipFile(archive, "a") as zf:  # addPyFile's case: the archive changes
        zf.writestr("b.py", "B = 2\n")
    pyspark_daemon._invalidate_if_changed(importer)
    assert len(reads) == 2
    assert importer.find_spec("b") is not None

    archive.unlink()  # gone: read (and fail) as zipimport does, never kept
    pyspark_daemon._invalidate_if_changed(importer)
    assert len(reads) == 3
    assert importer.find_spec("a") is None
