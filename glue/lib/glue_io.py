"""The I/O every finlake Glue script shares.

The I/O every finlake Glue script shares: job arguments and Spark setup, lake paths through
Hadoop's file system, partitioned Parquet, JSON Lines quarantine files and the result JSON.

Shipped to Glue as ``--extra-py-files`` (a zip asset of ``glue/lib/``, stacks/domain_pipeline.py),
which Glue puts on ``sys.path`` before the script runs, so a script imports it as the top-level
``glue_io``. Locally the same name works because ``glue/__init__.py`` puts ``glue/lib/`` on
``sys.path`` (tests and the bench import the scripts as ``glue.<script>``; the local Glue runner,
finlake/local/glue.py, imports that package before it loads a script by its path).

Only the driver calls this module: nothing here is pickled into a Spark worker (workers could not
import it locally, where it is not on their ``PYTHONPATH``).

Paths are ``s3://bucket/key`` on Glue and locally (the local runner mounts the workspace under the
``s3://`` scheme), or local paths in tests.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.utils import AnalysisException

JobRun = Callable[[SparkSession, dict[str, str]], dict[str, Any]]
GLOB_CHARACTERS = frozenset("{}[]*?\\,")  # special in a Hadoop glob pattern (org.apache.hadoop.fs.GlobPattern)


def run_job(run: JobRun, arguments: Iterable[str], argv: list[str] | None = None) -> dict[str, Any]:
    """A script's ``main()`` on Glue.

    A script's ``main()`` on Glue: resolve the job arguments, build the GlueContext's SparkSession
    (dynamic partition overwrite), ``Job.init``, call ``run(spark, args)`` and ``Job.commit``.

    Parameters
    ----------
    run
        The script's ``run(spark, args) -> result``; ``args`` holds every name of ``arguments``
        (without ``--``), ``""`` for one the run did not pass: Glue refuses empty argument values,
        so the workflow omits an empty one, and ``getResolvedOptions`` is asked only for those present.
    arguments
        The script's argument names.
    argv
        The command line (default ``sys.argv``).

    Returns
    -------
    dict
        What ``run`` returned.
    """
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    argv = sys.argv if argv is None else argv
    names = list(arguments)
    present = [name for name in names if f"--{name}" in argv]
    options = getResolvedOptions(argv, ["JOB_NAME", *present])
    glue = GlueContext(SparkContext.getOrCreate())
    spark = glue.spark_session
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    job = Job(glue)
    job.init(options["JOB_NAME"], options)
    result = run(spark, {name: options.get(name, "") for name in names})
    job.commit()
    return result


# -- paths -----------------------------------------------------------------------------------------


def root(uri: str) -> str:
    """``uri`` ending in ``/`` (a prefix tables are joined to)."""
    return uri if uri.endswith("/") else uri + "/"


def uris(value: str | None) -> list[str]:
    """The URIs of a comma-separated job argument, blanks dropped (``""`` -> ``[]``)."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def fs_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """Hadoop's ``(FileSystem, Path)`` for ``uri``.

    Hadoop's ``(FileSystem, Path)`` for ``uri`` in this session's configuration (S3 on Glue, the
    mounted workspace locally).
    """
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path  # type: ignore[union-attr]


def exists(spark: SparkSession, uri: str) -> bool:
    """Whether an object or prefix exists at ``uri``."""
    fs, path = fs_path(spark, uri)
    return bool(fs.exists(path))


def delete(spark: SparkSession, uri: str) -> None:
    """Remove ``uri`` and everything under it; nothing when it is not there."""
    fs, path = fs_path(spark, uri)
    if fs.exists(path):
        fs.delete(path, True)


def first_line(spark: SparkSession, uri: str, encoding: str = "utf_8", chunk: int = 65536) -> str | None:
    """The first line of the text object at ``uri`` (without its newline), or None when the object is empty.

    Read on the driver through Hadoop's file system, ``chunk`` bytes at a time until the line has ended (no
    Spark job; the rest of the object is not read), and decoded with ``encoding`` (a Python codec name) and
    ``errors="replace"``: Python's incremental decoder gives the same text as decoding the whole object.
    A carriage return or a byte-order mark stays in the text.

    Raises
    ------
    py4j.protocol.Py4JJavaError
        Wrapping Java's ``FileNotFoundException`` when nothing is at ``uri``.
    LookupError
        For an unknown ``encoding``.
    """
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    fs, path = fs_path(spark, uri)
    stream = fs.open(path)
    text, empty = "", True
    try:
        while "\n" not in text:
            data = bytes(stream.readNBytes(chunk))  # InputStream.readNBytes (Java 11+); py4j copies byte[] to bytes
            empty = empty and not data
            text += decoder.decode(data, final=len(data) < chunk)
            if len(data) < chunk:
                break
    finally:
        stream.close()
    return None if empty else text.split("\n", 1)[0]


def listed_path(spark: SparkSession, uri: str) -> str:
    """The path Hadoop lists for the file at ``uri``, e.g. ``file:/tmp/x.csv`` for ``/tmp/x.csv``.

    What Spark's file readers report for that file (``binaryFiles`` keys, ``input_file_name()``): the
    file system's own qualified form of ``uri`` (``s3://bucket/key`` on Glue and in local mode).

    Raises
    ------
    py4j.protocol.Py4JJavaError
        Wrapping Java's ``FileNotFoundException`` when nothing is at ``uri``.
    """
    fs, path = fs_path(spark, uri)
    return str(fs.getFileStatus(path).getPath().toString())


# -- Parquet ---------------------------------------------------------------------------------------


def read_optional(spark: SparkSession, uri: str | None, merge: bool = False) -> DataFrame | None:
    """The Parquet at ``uri``, or None when the argument is empty or nothing is there.

    ``merge``: the union of the files' schemas (a table that gained columns).
    """
    if not uri or not exists(spark, uri):
        return None
    try:
        return spark.read.option("mergeSchema", str(merge).lower()).parquet(uri)
    except AnalysisException:  # an empty directory: Spark cannot infer a schema
        return None


def read_table(spark: SparkSession, uri: str, schema: str) -> DataFrame | None:
    """The table at ``uri`` read with ``schema`` (Spark DDL), or None when it does not exist."""
    if not exists(spark, uri):
        return None
    return spark.read.schema(schema).parquet(uri)


def partition_values(spark: SparkSession, uri: str, column: str) -> list[str]:
    """The values of the ``<column>=<value>/`` folders directly under ``uri``, sorted; [] when it is absent.

    One listing of ``uri`` through Hadoop's file system (one paginated LIST on S3), read in a few py4j calls
    (:func:`folder_names`): no Spark job and no Parquet footer is read. Folders Spark would skip (``_`` or ``.``
    first) never match.
    """
    fs, path = fs_path(spark, uri)
    # Listed by the file system that holds the folder: through a mount (the local runner's s3://) the statuses
    # answer method calls but describe themselves with empty fields, which folder_names cannot read. Resolving
    # the path is also its existence check (one request on S3).
    try:
        held = fs.resolvePath(path)
    except Py4JJavaError as error:
        if error.java_exception.getClass().getName() == "java.io.FileNotFoundException":
            return []
        raise
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    prefix = f"{column}="
    names = folder_names(spark, held.getFileSystem(conf).listStatus(held))
    return sorted(name[len(prefix) :] for name in names if name.startswith(prefix))


def folder_names(spark: SparkSession, statuses: Any) -> list[str]:
    """The names of the folders among ``statuses`` (a Java ``FileStatus[]`` of one listing), in listing order.

    Read in a handful of py4j calls whatever their number. Asking each status from Python costs about six round
    trips (the element, ``isDirectory``, ``getPath``, ``getName``, and the release of each proxy): 10,000 of the
    15,000 of a daily stocks run over two years of daily partitions. Here the JVM joins the statuses' paths, and
    their descriptions (Hadoop's ``FileStatus{path=<path>; isDirectory=<true|false>; ...}``, which S3A's and
    the local file systems' statuses extend), into two strings. A status's kind is read from its description
    only when that starts with its exact path; otherwise (a status that describes itself another way, a name
    with a line break, a JVM without Scala 2.12's ``WrappedArray``) every status is asked one by one.
    """
    count = len(statuses)
    if count == 0:
        return []
    jvm: Any = spark.sparkContext._jvm
    try:
        joined = jvm.scala.collection.mutable.WrappedArray.make
        paths = joined(jvm.org.apache.hadoop.fs.FileUtil.stat2Paths(statuses)).mkString("\n").split("\n")
        described = joined(statuses).mkString("\n").split("\n")
    except Py4JError:
        paths, described = [], []
    folders = _folders_described(paths, described) if len(paths) == len(described) == count else None
    if folders is None:
        return [status.getPath().getName() for status in statuses if status.isDirectory()]
    return folders


def _folders_described(paths: list[str], described: list[str]) -> list[str] | None:
    """The names of the paths whose description says they are folders, or None.

    None when a description does not start, after its class's simple name, with ``{path=<its path>; isDirectory=``
    then ``true`` or ``false``.
    """
    folders = []
    for path, text in zip(paths, described, strict=True):
        head, fields = f"path={path}; isDirectory=", text.partition("{")[2]
        if fields.startswith(head + "true"):
            folders.append(path.rpartition("/")[2])
        elif not fields.startswith(head + "false"):
            return None
    return folders


def read_partitions(spark: SparkSession, uri: str, column: str, values: Iterable[str], schema: str) -> DataFrame:
    """The ``<column>=<value>/`` partitions of the table at ``uri`` read with ``schema`` (Spark DDL).

    Only the folders of ``values`` are listed and read (``basePath`` keeps ``column`` a column of the
    frame, typed as ``schema`` declares it); no schema inference. No values: an empty frame of ``schema``.

    The folders are named by one Hadoop glob, ``<uri>{<column>=<a>,<column>=<b>,...}``: Spark expands it with one
    listing of ``uri``, where it checks each of a list of paths on its own (a request each on S3), and it is one
    py4j argument instead of one per path. Values holding a glob character are named path by path instead.
    """
    names = [f"{column}={value}" for value in values]
    if not names:
        return spark.createDataFrame([], schema)
    if any(GLOB_CHARACTERS.intersection(name) for name in names):
        paths = [root(uri) + name for name in names]
    else:
        paths = [root(uri) + "{" + ",".join(names) + "}"]
    return spark.read.schema(schema).option("basePath", uri).parquet(*paths)


def write_partitioned(frame: DataFrame, uri: str, partition: str, sort_by: str | None = None) -> None:
    """Write ``frame`` under ``uri`` as Hive-style partitions of zstd Parquet.

    Write ``frame`` under ``uri`` as Hive-style ``<partition>=<value>/`` folders of zstd Parquet, one
    file per partition (sorted by ``sort_by`` within it). With the session's dynamic partition
    overwrite, only the partitions ``frame`` holds are replaced.

    The sort leads with ``partition``: Spark's planned write (3.4+) sorts each task's rows by the
    partition column unless they already are, and that sort alone would undo a sort by ``sort_by``.
    """
    rows = frame.repartition(partition)
    if sort_by:
        rows = rows.sortWithinPartitions(partition, sort_by)
    rows.write.mode("overwrite").partitionBy(partition).option("compression", "zstd").parquet(uri)


def distinct_values(frame: DataFrame, column: str, *, drop_null: bool = False) -> list[str]:
    """The sorted distinct values of ``column`` as strings (``drop_null``: without null)."""
    rows = frame.select(column).distinct().collect()
    return sorted(str(r[0]) for r in rows if not (drop_null and r[0] is None))


# -- quarantine and results ------------------------------------------------------------------------


def write_json_lines(spark: SparkSession, rows: DataFrame, uri: str) -> None:
    """Write ``rows`` as JSON Lines in the one object ``uri``.

    ``rows`` (in their order) as JSON Lines in the one object ``uri``, streamed to the driver a
    partition at a time and written through Hadoop's file system, a thousand lines per JVM call.
    The quarantine files of every domain have this form (`finlake quarantine` reads them).
    """
    fs, path = fs_path(spark, uri)
    out = fs.create(path, True)
    try:
        chunk: list[str] = []
        for row in rows.toLocalIterator():
            chunk.append(json.dumps(row.asDict(), ensure_ascii=False) + "\n")
            if len(chunk) == 1000:
                out.write(bytearray("".join(chunk).encode()))
                chunk = []
        out.write(bytearray("".join(chunk).encode()))
    finally:
        out.close()


def write_result(uri: str, result: dict[str, Any]) -> None:
    """Write the job's result JSON at ``uri``.

    The job's result JSON (sorted keys, indented) at ``uri``: ``s3://`` through boto3 (the next
    Lambda step reads it), else a local path (``file://`` or plain).
    """
    body = json.dumps(result, indent=2, sort_keys=True)
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3

        boto3.client("s3").put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=body.encode())
        return
    path = Path(parsed.path if parsed.scheme == "file" else uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


def read_json(uri: str) -> dict[str, Any]:
    """The JSON object at ``uri`` (``s3://`` through boto3, else a local path); what `write_result` wrote."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        import boto3

        body = boto3.client("s3").get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
        return dict(json.loads(body))
    return dict(json.loads(Path(parsed.path if parsed.scheme == "file" else uri).read_text()))


def materialized(frame: DataFrame) -> DataFrame:
    """``frame`` computed now and kept on the executors, as a plan of its own (Spark's local checkpoint).

    For a small input that several plans use: they start from its rows instead of from its lineage. Catalyst
    analyses and optimizes smaller plans at each DataFrame operation, and each write no longer walks the
    lineage's files: at every write Spark's cache manager goes through every root path of every relation of
    every cached plan, parent by parent (``CacheManager.recacheByPath``), and a daily partition is a root path.

    Unlike ``cache()``, the rows cannot be computed again: an executor lost with its blocks fails the job
    instead (Spark's ``localCheckpoint``), which then goes the way of any failed Glue run (an email, a
    dead-letter message, a redrive that rewrites the same partitions). Free the rows with :func:`release`.
    """
    return frame.localCheckpoint(eager=True)


def release(frame: DataFrame) -> None:
    """Free what ``frame`` keeps on the executors: its cache, or the rows :func:`materialized` kept.

    ``unpersist`` alone leaves a local checkpoint's blocks until the driver's garbage collector finds its RDD
    unreachable (Spark's ContextCleaner); here they go at once. Non-blocking, as ``unpersist()``.
    """
    frame.unpersist()
    plan: Any = frame._jdf.queryExecution().logical()
    if plan.nodeName() == "LogicalRDD":
        plan.rdd().unpersist(False)


def concurrently(*calls: Callable[[], None]) -> None:
    """Run each of ``calls`` on a thread of its own and wait for all of them; re-raise the first call's failure.

    For independent writes (tables that read the same cached inputs): while one thread's Spark job runs, another
    plans its own, so the driver's planning and the executors' tasks overlap instead of taking turns. Spark runs
    jobs from several threads of one session (FIFO between them).

    Raises
    ------
    Exception
        What the first failing call (in the order given) raised, after every call has ended.
    """
    with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
        futures = [pool.submit(call) for call in calls]
    for future in futures:
        future.result()
