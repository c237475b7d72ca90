"""The local pip bundler of dependency layers, without running pip (fast, no network)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stacks import bundling
from stacks.bundling import PipLayerBundler, pip_install_command, pip_wheel_command, sdist_only

PIP_NO_MATCH = (
    "ERROR: Could not find a version that satisfies the requirement qrcode==7.3.1 (from pynubank) (from versions: "
    "none)\nERROR: No matching distribution found for qrcode==7.3.1\n"
)


def test_install_command_targets_the_lambda_runtime_with_wheels_only() -> None:
    command = pip_install_command("req.txt", "/out/python", python="py")
    assert command[:4] == ["py", "-m", "pip", "install"]
    args = " ".join(command[4:])
    assert "-r req.txt --target /out/python" in args
    assert "--platform manylinux2014_x86_64" in args
    assert "--implementation cp" in args
    assert "--python-version 3.14" in args
    assert "--only-binary=:all:" in command
    assert "--upgrade" in command
    assert "--find-links" not in command


def test_install_command_adds_each_wheelhouse() -> None:
    command = pip_install_command("req.txt", "out", find_links=["/w1", Path("/w2")], python="py")
    assert command[-4:] == ["--find-links", "/w1", "--find-links", "/w2"]


def test_wheel_command_builds_one_requirement_without_dependencies() -> None:
    assert pip_wheel_command("qrcode==7.3.1", "/w", python="py") == [
        "py",
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--disable-pip-version-check",
        "qrcode==7.3.1",
        "-w",
        "/w",
    ]


def test_sdist_only_reads_the_requirement_from_pips_error() -> None:
    assert sdist_only(PIP_NO_MATCH) == "qrcode==7.3.1"
    assert sdist_only("ERROR: HTTP error 503 while getting https://pypi.org/simple/x/") is None


class FakePip:
    """Stands in for pip: the first install finds no wheel of qrcode; ``pip wheel`` drops ``wheel_name``."""

    def __init__(self, wheel_name: str = "qrcode-7.3.1-py3-none-any.whl") -> None:
        self.wheel_name = wheel_name
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        if command[3] == "wheel":
            (Path(command[command.index("-w") + 1]) / self.wheel_name).write_bytes(b"")
            return subprocess.CompletedProcess(command, 0, "", "")
        if "--find-links" not in command:
            return subprocess.CompletedProcess(command, 1, "", PIP_NO_MATCH)
        target = Path(command[command.index("--target") + 1])
        for path in ("qrcode/__init__.py", "qrcode/__pycache__/x.pyc", "pynubank/tests/t.py", "bin/qr"):
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_text("")
        return subprocess.CompletedProcess(command, 0, "", "")


def test_bundler_builds_sdist_only_requirements_into_wheels_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pip = FakePip()
    monkeypatch.setattr(bundling, "_run", pip)
    assert PipLayerBundler(Path("requirements.txt")).try_bundle(str(tmp_path), None) is True  # type: ignore[arg-type]
    assert [c[3] for c in pip.commands] == ["install", "wheel", "install"]
    assert "qrcode==7.3.1" in pip.commands[1]
    assert "--find-links" in pip.commands[2]
    layer = tmp_path / "python"
    assert (layer / "qrcode" / "__init__.py").exists()
    assert not (layer / "qrcode" / "__pycache__").exists()
    assert not (layer / "pynubank" / "tests").exists()
    assert not (layer / "bin").exists()


def test_bundler_refuses_a_native_wheel_built_from_an_sdist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundling, "_run", FakePip("qrcode-7.3.1-cp311-cp311-linux_x86_64.whl"))
    with pytest.raises(RuntimeError, match="native wheel"):
        PipLayerBundler(Path("requirements.txt")).try_bundle(str(tmp_path), None)  # type: ignore[arg-type]
