"""Every Glue job gets, through ``--extra-py-files``, the modules its script imports that Glue does not have.

Read from the synthesized template and the staged assets, as deployed: the job's script asset
(``Command.ScriptLocation``) and the asset its ``--extra-py-files`` names. Glue adds each
``--extra-py-files`` path to the Python path before it runs the script; a ``.py`` object is imported
under its object name, which for a single-file CDK asset is ``<asset hash>.py`` (so ``import glue_io``
would fail), while a zip is put on ``sys.path`` as a whole and its root's modules keep their names
(https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html). moto runs no
Glue job, and the local runner imports the scripts from the checkout, so only this test sees it.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.specs import DOMAINS

pytestmark = pytest.mark.slow

PIPELINES = "FinlakePipelines"
# What a Glue 5.0 job's Python has without --extra-py-files: the standard library, Spark, Glue's own
# library and the SDK (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html).
ON_GLUE = set(sys.stdlib_module_names) | {"pyspark", "py4j", "awsglue", "boto3", "botocore"}
ASSET_KEY = re.compile(r"/([0-9a-f]{64})(\.zip|\.py)?$")


def _assets(outdir: Path) -> dict[str, dict[str, Any]]:
    """Asset hash -> {"path": staged file or directory, "packaging": "zip" | "file"}."""
    manifest = json.loads((outdir / f"{PIPELINES}.assets.json").read_text())
    out = {}
    for asset_hash, item in manifest["files"].items():
        path = Path(item["source"]["path"])
        out[asset_hash] = {
            "path": path if path.is_absolute() else outdir / path,
            "packaging": item["source"].get("packaging", "file"),
        }
    return out


def _s3_key(value: Any) -> tuple[str, str]:
    """``(asset hash, extension)`` of an ``s3://<assets bucket>/<hash><ext>`` value (Fn::Sub or Fn::Join)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        tail = value["Fn::Sub"]
    elif isinstance(value, dict):
        tail = next(p for p in reversed(value["Fn::Join"][1]) if isinstance(p, str))
    else:
        tail = value
    found = ASSET_KEY.search(tail)
    assert found, f"not an asset object URL: {value!r}"
    return found.group(1), found.group(2) or ""


def _imports(script: Path) -> set[str]:
    """The top-level names of every module ``script`` imports (at module level or inside a function)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _jobs(synthesized: Any) -> dict[str, dict[str, Any]]:
    return synthesized.resources(PIPELINES, "AWS::Glue::Job")


def test_every_job_ships_the_modules_its_script_imports_at_the_root_of_a_zip(synthesized) -> None:
    assets = _assets(synthesized.outdir)
    jobs = _jobs(synthesized)
    assert len(jobs) == sum(len(spec.glue_jobs) for spec in DOMAINS.values())  # today stocks', cards' two
    for logical_id, job in jobs.items():
        props = job["Properties"]
        script_hash, _ = _s3_key(props["Command"]["ScriptLocation"])
        script = assets[script_hash]["path"]
        assert script.is_file(), logical_id
        needed = _imports(script) - ON_GLUE
        assert "glue_io" in needed, f"{logical_id}: {script.name} no longer imports glue_io; update this test"

        extra = props["DefaultArguments"].get("--extra-py-files")
        assert extra, f"{logical_id} ({script.name}) imports {sorted(needed)} but has no --extra-py-files"
        library_hash, extension = _s3_key(extra)
        library = assets[library_hash]
        # a zip keeps the module names; a single .py would be imported as its asset hash
        assert extension == ".zip" and library["packaging"] == "zip", f"{logical_id}: --extra-py-files {extra!r}"
        shipped = {p.stem for p in library["path"].glob("*.py")} | {
            p.name for p in library["path"].iterdir() if (p / "__init__.py").is_file()
        }
        assert needed <= shipped, f"{logical_id}: {sorted(needed - shipped)} missing from {library['path']}"
        assert not list(library["path"].rglob("__pycache__")), "compiled caches shipped to Glue"


def test_the_job_role_can_read_the_library(synthesized) -> None:
    """The role reads the assets bucket: the grant CDK writes for the script covers the library's object too."""
    template = synthesized.templates[PIPELINES]
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    for logical_id, job in _jobs(synthesized).items():
        role_ref = job["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = [
            s
            for p in policies
            if {"Ref": role_ref} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        library_hash, _ = _s3_key(job["Properties"]["DefaultArguments"]["--extra-py-files"])
        reads = [
            s
            for s in statements
            if "s3:GetObject*" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            and "cdk-" in json.dumps(s["Resource"])
        ]
        assert reads, f"{logical_id}: its role cannot read the assets bucket ({library_hash[:8]}...)"
