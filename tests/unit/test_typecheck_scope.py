"""mypy follows only some of aws-cdk-lib's modules (pyproject.toml): every one finlake imports must be among them,
or its types would silently become Any."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mypy_settings() -> dict:
    settings: dict = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return settings


def imported_cdk_modules(files: list[str]) -> set[str]:
    """The ``aws_cdk`` modules the checked files import (``from aws_cdk import aws_s3`` counts as aws_cdk.aws_s3)."""
    found: set[str] = set()
    for entry in files:
        path = ROOT / entry
        for source in [path] if path.is_file() else sorted(path.rglob("*.py")):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aws_cdk":
                    found.add(str(node.module))
                    if node.module == "aws_cdk":
                        found |= {f"aws_cdk.{a.name}" for a in node.names if a.name.islower()}
                elif isinstance(node, ast.Import):
                    found |= {a.name for a in node.names if a.name.split(".")[0] == "aws_cdk"}
    return found


def test_every_aws_cdk_module_finlake_imports_is_followed():
    settings = mypy_settings()
    followed = {
        module
        for override in settings["overrides"]
        if override.get("follow_imports") == "normal"
        for module in override["module"]
    }
    assert any(o["module"] == ["aws_cdk.*"] and o["follow_imports"] == "skip" for o in settings["overrides"])
    imported = imported_cdk_modules(settings["files"])
    assert {"aws_cdk", "aws_cdk.aws_lambda", "aws_cdk.aws_stepfunctions"} <= imported  # the reader works
    assert imported <= followed, f"add to the followed aws_cdk modules in pyproject.toml: {sorted(imported - followed)}"
