"""docs/reliability.md is the rendering of tests/reliability/scenarios.py, and every scenario's test exists."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.reliability.scenarios import DOC, ROOT, SCENARIOS, render

pytestmark = pytest.mark.slow


def test_the_committed_document_is_the_rendering_of_the_scenarios():
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m tests.reliability.scenarios --write"


def test_every_scenario_names_a_collected_test():
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/reliability"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    collected = {line.split("[", 1)[0] for line in listing if "::" in line}
    missing = [s.test for s in SCENARIOS if s.test and s.test not in collected]
    assert missing == []
