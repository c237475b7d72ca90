"""A Lambda layer of pinned Python dependencies, built with pip on this machine (no Docker).

CDK calls ``PipLayerBundler.try_bundle`` before it would start a Docker container. The bundler runs
the local interpreter's pip with ``--platform``/``--python-version``/``--implementation`` so that it
fetches the wheels of the Lambda runtime (CPython 3.14, manylinux x86_64), not of this machine.
A requirements file is the layer's whole closure, pinned, and is installed with ``--no-deps``: a
layer never pulls in a second copy of what the runtime or an earlier layer already unpacks into
/opt/python, and a dependency's own exact pins (pynubank's) cannot override fixed versions.

pip refuses a cross-platform install unless every distribution is a wheel (``--only-binary=:all:``).
A few pure-Python packages are published only as an sdist (``qrcode==7.3.1``, which pynubank pins).
Rather than keep a list of them, the bundler reads pip's "No matching distribution found for X",
builds X with ``pip wheel --no-deps`` into a local wheelhouse and retries with ``--find-links``.
A wheel built that way is only accepted when it is platform-independent (``*-none-any.whl``); a
native sdist cannot be cross-built without Docker, so the bundler then fails with a clear message.

Tests and ``make test`` never run pip: they synthesize with ``aws:cdk:bundling-stacks = []``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, ILocalBundling

PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.14"
IMPLEMENTATION = "cp"
LAYER_DIR = "python"  # Lambda adds /opt/python to sys.path
# Dropped from the layer: byte code, console scripts, man pages and stray docs, test suites.
PRUNE = ("**/__pycache__", "bin", "share", "docs", "tests", "*/tests")
MAX_SDIST_BUILDS = 5
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


def pip_install_command(
    requirements: Path | str,
    target: Path | str,
    *,
    find_links: Sequence[Path | str] = (),
    python: str = sys.executable,
) -> list[str]:
    """The ``pip install`` of ``requirements`` into ``target`` for the Lambda platform (pure)."""
    command = [
        python,
        "-m",
        "pip",
        "install",
        "-r",
        str(requirements),
        "--target",
        str(target),
        "--platform",
        PLATFORM,
        "--implementation",
        IMPLEMENTATION,
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-deps",
        "--upgrade",
        "--no-compile",
        "--disable-pip-version-check",
    ]
    for link in find_links:
        command += ["--find-links", str(link)]
    return command


def pip_wheel_command(requirement: str, wheelhouse: Path | str, *, python: str = sys.executable) -> list[str]:
    """Build one requirement (an sdist) into a wheel, without its dependencies (pure)."""
    return [
        python,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--disable-pip-version-check",
        requirement,
        "-w",
        str(wheelhouse),
    ]


def sdist_only(pip_output: str) -> str | None:
    """The requirement pip found no wheel for, e.g. ``qrcode==7.3.1``, or None (pure)."""
    match = _NO_MATCH.search(pip_output)
    return match.group(1) if match else None


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _prune(layer: Path) -> None:
    for pattern in PRUNE:
        for path in layer.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)


@jsii.implements(ILocalBundling)
class PipLayerBundler:
    """Install ``requirements`` into ``<output_dir>/python`` with this machine's pip."""

    def __init__(self, requirements: Path) -> None:
        self.requirements = requirements

    # jsii calls this positionally with (outputDir, options), whatever the generated stub says.
    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        """Install the layer's requirements into ``output_dir`` with pip, on this machine.

        A requirement pip finds only as an sdist is built into a wheel first (at most ``MAX_SDIST_BUILDS``); the
        installed tree is then pruned.

        Returns
        -------
        bool
            Always True (the layer was bundled locally).

        Raises
        ------
        RuntimeError
            When pip fails for another reason than an sdist-only requirement, or the builds run out.
        """
        layer = Path(output_dir) / LAYER_DIR
        with tempfile.TemporaryDirectory(prefix="finlake-wheels-") as wheelhouse:
            built: list[str] = []
            while True:
                result = _run(pip_install_command(self.requirements, layer, find_links=[wheelhouse] if built else ()))
                if result.returncode == 0:
                    break
                requirement = sdist_only(result.stdout + result.stderr)
                if requirement is None or requirement in built or len(built) >= MAX_SDIST_BUILDS:
                    raise RuntimeError(f"pip could not build the layer for {self.requirements}:\n{result.stderr}")
                self._build_wheel(requirement, Path(wheelhouse))
                built.append(requirement)
        _prune(layer)
        return True

    @staticmethod
    def _build_wheel(requirement: str, wheelhouse: Path) -> None:
        before = set(wheelhouse.glob("*.whl"))
        result = _run(pip_wheel_command(requirement, wheelhouse))
        wheels = set(wheelhouse.glob("*.whl")) - before
        if result.returncode != 0 or not wheels:
            raise RuntimeError(f"pip could not build a wheel of {requirement}:\n{result.stderr}")
        native = [w.name for w in wheels if not w.name.endswith("-none-any.whl")]
        if native:
            raise RuntimeError(
                f"{requirement} has no wheel for {PLATFORM} and its sdist builds a native wheel "
                f"({', '.join(native)}); build the layer in Docker instead"
            )
