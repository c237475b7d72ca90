"""PySpark's Python worker daemon for the local session, with zip directories read once per archive version.

Spark starts ``python -m <spark.python.daemon.module>`` once and forks a worker from it per Python task slot;
:func:`finlake.local.glue.local_spark` names this module. It is ``pyspark.daemon`` with one change made before the
first fork: ``zipimport.zipimporter.invalidate_caches`` reads an archive's directory again only when the archive's
file changed (size, modification time or inode), instead of on every call.

Why: every task a worker runs calls ``importlib.invalidate_caches()`` (pyspark/worker.py, so that files added with
``addPyFile`` are seen), and on Python 3.11 that re-reads the whole central directory of each zip on ``sys.path``.
Spark puts its own ``pyspark.zip`` (793 entries, about 9 ms a read on this 2-core machine) and py4j's zip there.
In the test suite, those re-reads were most of the CPU time of PySpark's Python workers (py-spy over a whole run).
An archive that did change is read again, so ``addPyFile`` keeps working. Glue's workers are Glue's; its scripts
are unchanged.
"""

from __future__ import annotations

import os
import zipimport
from typing import Any

_read = zipimport.zipimporter.invalidate_caches


def _invalidate_if_changed(self: Any) -> None:
    """``zipimporter.invalidate_caches``, skipped while the archive's file is the one this importer last read.

    The version read (size, mtime_ns, inode) is kept on the importer, so two importers of one archive each read it
    again after it changed.
    """
    try:
        stat = os.stat(self.archive)
        version = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    except OSError:
        version = None
    if version is None or getattr(self, "_finlake_read_version", None) != version:
        _read(self)
        self._finlake_read_version = version


zipimport.zipimporter.invalidate_caches = _invalidate_if_changed  # type: ignore[method-assign]

if __name__ == "__main__":
    from pyspark.daemon import manager

    manager()
