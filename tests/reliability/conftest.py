from __future__ import annotations

from pathlib import Path

import pytest

from finlake.local.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.fixture
def clean_ws(tmp_path: Path) -> Workspace:
    """A second workspace, for the clean run a recovered run is compared with."""
    return Workspace.open(tmp_path / "clean")
