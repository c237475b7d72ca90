"""The local workspace: what the embedded AWS keeps between two `finlake` commands.

Layout (under ``.finlake/`` or ``$FINLAKE_HOME``)::

    s3/<bucket>/<key>          every object of the lake's buckets, byte for byte
    s3-metadata.json           user metadata of those objects ({"bucket/key": {...}})
    catalog.json               the Glue Data Catalog: databases, tables and partitions
    runs/<execution>.json      each local execution: input, status, state history, notifications
    dead-letters.json          the dead-letter queue's messages ([{sent, body}]): failed runs to redrive
    samples/                   generated sample sources (recorded-format responses)

moto keeps its state in memory; the runtime loads this folder into moto before a run and
writes moto's buckets, catalog and dead-letter queue back after it, so that `finlake query` and `finlake runs`
see what earlier runs did.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_home() -> Path:
    """The workspace folder: ``$FINLAKE_HOME``, else ``.finlake`` in the current directory (absolute)."""
    return Path(os.environ.get("FINLAKE_HOME", ".finlake")).resolve()


@dataclass(frozen=True)
class Workspace:
    """The folder local mode keeps its state in: the lake's objects, the catalog, run records, dead letters, samples.

    The embedded AWS is rebuilt from it at each start and saved to it at each end.
    """

    root: Path

    @classmethod
    def open(cls, root: Path | None = None) -> Workspace:
        """The workspace at ``root`` (default `default_home`), its ``s3``, ``runs`` and ``samples`` folders created."""
        ws = cls((root or default_home()).resolve())
        for sub in ("s3", "runs", "samples"):
            (ws.root / sub).mkdir(parents=True, exist_ok=True)
        return ws

    @property
    def s3_dir(self) -> Path:
        """The lake's objects, one folder per bucket (``s3/<bucket>/<key>``)."""
        return self.root / "s3"

    @property
    def runs_dir(self) -> Path:
        """The run records (one JSON file per execution)."""
        return self.root / "runs"

    @property
    def samples_dir(self) -> Path:
        """Generated sample inputs."""
        return self.root / "samples"

    def object_path(self, bucket: str, key: str) -> Path:
        """The file that holds object ``key`` of ``bucket``."""
        return self.s3_dir / bucket / key

    def read_json(self, name: str, default: Any) -> Any:
        """The JSON file ``name`` (relative to the root), or ``default`` when it does not exist."""
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else default

    def write_json(self, name: str, data: Any) -> None:
        """Write ``data`` as indented JSON to ``name`` (under the root), atomically (a temp file, then a rename)."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
        tmp.replace(path)

    def iter_objects(self) -> list[tuple[str, str, Path]]:
        """(bucket, key, path) for every stored object."""
        found = []
        for path in sorted(self.s3_dir.rglob("*")):
            if path.is_file():
                bucket, _, key = path.relative_to(self.s3_dir).as_posix().partition("/")
                found.append((bucket, key, path))
        return found

    def save_run(self, record: dict[str, Any]) -> None:
        """Keep a run record (`RunResult.record`) as ``runs/<name>-<started, YYYYMMDDTHHMMSS>.json``."""
        stamp = record["started"].replace(":", "").replace("-", "")[:15]
        self.write_json(f"runs/{record['name']}-{stamp}.json", record)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead-letter queue as the last session left it.

        ``[{"sent": ISO-8601 UTC, "body": {...}}]``, the body being what a definition's ``SendToDeadLetterQueue`` state
        sent.
        """
        letters: list[dict[str, Any]] = self.read_json("dead-letters.json", [])
        return letters

    def runs(self, domain: str | None = None) -> list[dict[str, Any]]:
        """The run records (of ``domain``, or all), oldest first by start time."""
        records = [json.loads(p.read_text()) for p in self.runs_dir.glob("*.json")]
        if domain:
            records = [r for r in records if r.get("domain") == domain]
        return sorted(records, key=lambda r: r.get("started", ""))
