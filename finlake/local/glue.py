"""Glue jobs on a local SparkSession, for the embedded AWS.

A Glue script of this project exposes ``run(spark, args) -> dict`` (the job's work, with
``args`` holding the job arguments without their ``--``) and a ``main()`` that builds the
GlueContext in AWS. Locally, when a state machine starts a job run, `LocalGlueRunner`:

1. writes moto's buckets to the workspace folder (``.finlake/s3/<bucket>/...``): only the objects changed in moto
   since the last sync, and the catalog (`EmbeddedAws.save_workspace`),
2. mounts that folder under the ``s3://`` scheme for Spark (Hadoop's `ViewFileSystemOverloadScheme`,
   one mount table per bucket whose fallback link is ``<workspace>/s3/<bucket>``), so the job gets
   its arguments unchanged and reads and writes ``s3://<bucket>/<key>`` as on Glue: the URIs it
   records (a quarantined row's file, ``input_file_name()``) are S3 URIs,
3. imports the job's script (its ``ScriptLocation``, with ``glue/lib/`` on ``sys.path`` as ``--extra-py-files``
   puts it on Glue) and calls ``run`` on a local SparkSession,
4. keeps what the script put through boto3 (moto) during the run, then loads the folder's changes back
   into moto's buckets (`EmbeddedAws.load_objects_from_workspace`: the files the job added or changed are put, the
   ones it removed deleted), leaving out Hadoop's ``.<name>.crc`` checksum side files, which S3 never
   holds (the next save removes them from the folder).

Spark's JVM writes its banner and log lines to ``<workspace>/logs/spark.log`` (the JVM is started
with its stdout and stderr on that file), so a run's output shows the workflow only; each run's slice of that log is
copied to ``<workspace>/logs/<execution>.log`` by the runner.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from finlake.local.lake import BUCKETS
from stacks.specs import ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from finlake.local.runtime import EmbeddedAws

_spark: SparkSession | None = None
_mounted: tuple[str, tuple[str, ...]] | None = None  # (workspace s3 folder, buckets) Spark's s3:// points at
SPARK_LOG = "logs/spark.log"  # under the workspace
JVM_OPTIONS = (
    "-XX:+UseParallelGC -XX:Tier4InvocationThreshold=50000 -XX:Tier4MinInvocationThreshold=6000"
    " -XX:Tier4CompileThreshold=150000 -XX:Tier4BackEdgeThreshold=400000"
)
LOCAL_FS_SOURCE = Path(__file__).with_name("NioLocalFileSystem.java")
LOCAL_FS_CLASS = "finlake.local.NioLocalFileSystem"
log = logging.getLogger(__name__)


def local_spark(log_path: Path | None = None) -> SparkSession:
    """One local SparkSession per process, configured like Glue 5.0 where it matters.

    The JVM it starts writes its output to ``log_path`` (default: inherits this process's stdout/stderr).
    """
    global _spark
    if _spark is None:
        from pyspark.sql import SparkSession

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # PySpark's Python workers run this interpreter, not whatever `python3` is first on PATH (its version must
        # be the driver's, and its packages are this one's).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        log_config = Path(__file__).with_name("log4j2.properties").as_uri()
        # The cores this process may use (a container's limit, not the host's). Not divided between pytest-xdist's
        # workers: the suite's longest files run while the other workers are idle, and then need every core.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
        builder = (
            # One task and one shuffle partition per core, sized to the machine instead of fixed (Glue sizes its
            # own from its workers). Two per core cost more in tasks than they gained in balance: on 2 cores
            # the demo's daily run 18.5 -> 17.2 s, cards 11.8 -> 9.7 s, the backfill no slower.
            # Adaptive execution off: on data this small its stage-by-stage re-planning
            # cost more than it saved (the backfill's windows 34 -> 28.5 s with the parallel collector below;
            # docs/decisions/0022-fast-local-loop.md). Glue keeps it on.
            SparkSession.builder.master(f"local[{cores}]")
            .config("spark.default.parallelism", str(cores))
            .config("spark.sql.adaptive.enabled", "false")
            # Spark keeps 100 generated classes by default; the demo's backfill compiles about 600, so the daily
            # run after it compiled its own again (its Transform 15.5 -> 13.7 s with 2,000 kept).
            .config("spark.sql.codegen.cache.maxEntries", "2000")
            # No runtime Bloom filters on joins: on data this small the optimizer's search for them (rule
            # InjectRuntimeFilter) found none to add and took 1.9 of the 18.7 s of analyzer and optimizer rules
            # in tests/glue/test_stocks_analytics.py (RuleExecutor.dumpTimeSpent). Glue keeps it on.
            .config("spark.sql.optimizer.runtime.bloomFilter.enabled", "false")
            .appName("finlake-local-glue")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(cores))
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # The parallel collector: a 2 GB heap on a few cores, where G1's concurrent threads compete with the tasks.
            # C2, the JIT's optimizing tier, only for code ten times hotter than its defaults: a local session compiles
            # Spark's generated classes for small data, and C2 was the JVM's busiest thread (47 of 133 CPU-s in
            # tests/glue/test_stocks_analytics.py). tests/glue's transform and cards files: JVM CPU 166 -> 133 s,
            # 107.5 -> 98.6 s; the demo's backfill no slower (69.9 -> 63.4 s, one probe a side). C1 alone (no C2)
            # made the driver's planning twice as slow.
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config} {JVM_OPTIONS}")
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
            # No block locations when listing (one machine has no locality): for an s3:// mount (a ViewFileSystem)
            # Spark asks for them, and Hadoop's local file system then forks `ls -ld` for every file listed to
            # fill in its owner and permissions. A warm daily stocks job: 11.9 -> 8.9 s.
            .config("spark.sql.sources.ignoreDataLocality", "true")
            # The Python workers' daemon: PySpark's, reading the zips on its path once instead of per task
            # (finlake/local/pyspark_daemon.py). The checkout on the workers' path, so that it imports installed or not.
            .config("spark.python.daemon.module", "finlake.local.pyspark_daemon")
            .config("spark.executorEnv.PYTHONPATH", str(ROOT))
            # s3://<bucket>/ is a mount of the workspace folder (see mount_workspace)
            .config("spark.hadoop.fs.s3.impl", "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme")
        )
        # The workspace's files without a chmod process per file and folder written, nor .crc side files (S3 has
        # none, the sync leaves them out): see NioLocalFileSystem.java. Without its jar, Hadoop's own.
        jar = _local_fs_jar()
        if jar is not None:
            builder = builder.config("spark.driver.extraClassPath", str(jar)).config(
                "spark.hadoop.fs.file.impl", LOCAL_FS_CLASS
            )
        if log_path is not None:
            _launch_jvm(log_path, builder)
        _keep_py4j_lookups()
        _spark = builder.getOrCreate()
        _spark.sparkContext.setLogLevel("WARN")
    return _spark


def _keep_py4j_lookups() -> None:
    """Keep the classes, packages and static methods py4j finds by name (every py4j gateway of this process).

    PySpark reaches the JVM by name: ``F.col("x")`` is ``jvm.functions`` (a lookup), ``.col`` (a second one) and
    the call. py4j sends each lookup to the JVM and keeps nothing, and the JVM resolves a bare name by trying
    ``Class.forName`` on each of PySpark's imported packages in turn: a miss searches every jar on the class path.
    That search was 5 % of the JVM's sampled CPU in a warm local stocks run (Java Flight Recorder).

    A class, a static method, an inner class or a package found once is kept on the object that looked it up.
    Not kept: static fields (values, read each time), members not found (an error each time), and a name that
    starts with a capital letter and is not a class: py4j answers "package" for any name it cannot resolve, and
    that name may be a class imported later (``java_import``) or a typo. Not seen: a later ``java_import`` that
    gives a short name already kept another class; PySpark imports its packages when the gateway starts, and
    imports more later only for streaming, which finlake does not use. The Glue scripts are unchanged; on Glue,
    py4j works as it always has.
    """
    from py4j import java_gateway as gateway

    if getattr(gateway, "_finlake_keeps_lookups", False):
        return

    def keeping(lookup: Any, kinds: tuple[type, ...]) -> Any:
        def __getattr__(self: Any, name: str) -> Any:
            found = lookup(self, name)
            if isinstance(found, kinds) and not (isinstance(found, gateway.JavaPackage) and name[:1].isupper()):
                object.__setattr__(self, name, found)  # found by ordinary lookup from now on: no round trip
            return found

        return __getattr__

    named = (gateway.JavaClass, gateway.JavaPackage)
    gateway.JVMView.__getattr__ = keeping(gateway.JVMView.__getattr__, named)  # type: ignore[method-assign]
    gateway.JavaPackage.__getattr__ = keeping(gateway.JavaPackage.__getattr__, named)  # type: ignore[method-assign]
    members = (gateway.JavaClass, gateway.JavaMember)
    gateway.JavaClass.__getattr__ = keeping(gateway.JavaClass.__getattr__, members)  # type: ignore[method-assign]
    gateway._finlake_keeps_lookups = True  # type: ignore[attr-defined]


def _local_fs_jar() -> Path | None:
    """The jar of ``NioLocalFileSystem.java``, compiled once per source, flags and Hadoop version; None if it can't be.

    Built with the JDK's ``javac`` and ``jar`` against the ``hadoop-client-api`` jar PySpark ships, into
    ``$XDG_CACHE_HOME/finlake`` (default ``~/.cache/finlake``). None, with a warning on the log, without them (a Java
    runtime only), when the build fails or when that folder can't be written: Spark then keeps Hadoop's own local file
    system, which gives the same files (and ``.crc`` side files, which the sync leaves out), more slowly.
    Concurrent builders (pytest-xdist's workers) each build in a folder of their own and rename their jar into place.
    """
    import pyspark

    hadoop = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if not hadoop or javac is None or jar_tool is None:
        log.warning("no JDK (javac, jar) found: local Spark writes through Hadoop's local file system (slower)")
        return None
    flags = ["-nowarn", "--release", "8", "-Xlint:-options", "-cp", str(hadoop[-1])]
    key = LOCAL_FS_SOURCE.read_bytes() + " ".join([*flags[:-1], hadoop[-1].name]).encode()
    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "finlake"
        jar = cache / f"local-fs-{hashlib.sha256(key).hexdigest()[:16]}.jar"
        if jar.exists():
            return jar
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            classes, built = Path(tmp) / "classes", Path(tmp) / "local-fs.jar"
            for step in (
                [javac, *flags, "-d", str(classes), str(LOCAL_FS_SOURCE)],
                [jar_tool, "cf", str(built), "-C", str(classes), "."],
            ):
                done = subprocess.run(step, capture_output=True, text=True, timeout=300)
                if done.returncode:
                    raise OSError(f"{Path(step[0]).name} failed: {done.stderr.strip()}")
            os.replace(built, jar)
        return jar
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:  # RuntimeError: Path.home() without a home
        log.warning(
            "building %s failed, local Spark writes through Hadoop's local file system: %s", LOCAL_FS_CLASS, error
        )
        return None


def _launch_jvm(log_path: Path, builder: Any) -> None:
    """Start Spark's JVM (py4j gateway) with its stdout and stderr appended to ``log_path``."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return
    conf = SparkConf()
    for key, value in builder._options.items():
        conf.set(key, value)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": subprocess.STDOUT})
    SparkContext._ensure_initialized(gateway=gateway, conf=conf)


def mount_workspace(spark: SparkSession, s3_dir: Path, buckets: list[str]) -> None:
    """Make ``s3://<bucket>/<key>`` mean ``<s3_dir>/<bucket>/<key>`` for this session's jobs."""
    global _mounted
    wanted = (str(s3_dir), tuple(sorted(buckets)))
    if _mounted == wanted:
        return
    jvm: Any = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    for bucket in buckets:
        folder = s3_dir / bucket
        folder.mkdir(parents=True, exist_ok=True)
        conf.set(f"fs.viewfs.mounttable.{bucket}.linkFallback", folder.as_uri())
    jvm.org.apache.hadoop.fs.FileSystem.closeAll()  # cached s3:// file systems may point at another workspace
    _mounted = wanted


def load_script(location: str) -> ModuleType:
    """The Glue script at ``location`` (absolute, or relative to the project), imported as a module.

    The package ``glue`` is imported first: it puts ``glue/lib/`` on ``sys.path``, as ``--extra-py-files``
    does on Glue, so the script's ``import glue_io`` finds the shared I/O module.
    """
    importlib.import_module("glue")
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
    """Runs a Glue job's script on local Spark when moto starts a job run (`moto_patches.set_glue_runner`).

    The script reads and writes the workspace's folders as the lake's buckets; objects its boto3 calls put into moto
    are copied to the workspace, and the workspace is loaded back into moto afterwards.
    """

    def __init__(self, aws: EmbeddedAws):
        self.aws = aws

    def __call__(self, job_name: str, arguments: dict[str, str]) -> None:
        """Run job ``job_name`` with the run's ``arguments`` (``--KEY`` -> value) over the job's default arguments.

        Raises whatever the script raises: moto then records the run as FAILED.
        """
        job = self.aws.client("glue").get_job(JobName=job_name)["Job"]
        script = load_script(job["Command"]["ScriptLocation"])
        # As Glue does: the job's default arguments, overridden by the run's own.
        merged = {**job.get("DefaultArguments", {}), **arguments}
        args: dict[str, Any] = {k.removeprefix("--"): v for k, v in merged.items()}
        workspace = self.aws.workspace
        self.aws.save_workspace()
        spark = local_spark(workspace.root / SPARK_LOG)
        mount_workspace(spark, workspace.s3_dir, list(BUCKETS.values()))
        try:
            script.run(spark, args)
        finally:
            self.aws.load_objects_from_workspace()
