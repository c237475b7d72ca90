from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from finlake.local.runtime import EmbeddedAws
from finlake.local.sources import local_function_env, sample_transport
from finlake.local.workspace import Workspace
from functions.common.http import use_transport
from stacks.specs import DOMAINS


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@pytest.fixture
def aws(workspace: Workspace) -> Iterator[EmbeddedAws]:
    """The embedded AWS with every domain's bundled sample source."""
    use_transport("bndes", sample_transport(workspace, "bndes", {}))  # the CKAN cassette (the runner does this per run)
    try:
        with EmbeddedAws(workspace, function_env=local_function_env(workspace, list(DOMAINS.values()))) as session:
            yield session
    finally:
        use_transport("bndes", None)
