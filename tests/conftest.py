"""Shared fixtures: a fake Lambda context, sample events, paths to ../shared/fixtures; the
network guard (tests/offline/netguard.py) for this process and every Python process it starts
(each pytest-xdist worker with a log of its own); a local run's collector thresholds."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from finlake.local import collect_less_often
from finlake.local.moto_patches import LocalLambdaContext

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
OFFLINE = ROOT / "tests" / "offline"
NETGUARD_LOG = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """No test reaches the network: loopback only, here and (as sitecustomize) in subprocesses.
    Refusals are logged to ``$FINLAKE_NETGUARD_LOG`` (tests/test_readme.py asserts it stays empty)."""
    collect_less_often()  # the suite's processes allocate as a local run does (finlake/local/__init__.py)
    sys.path.insert(0, str(OFFLINE))
    import netguard

    netguard.install()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OFFLINE), os.environ.get("PYTHONPATH")]))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and "FINLAKE_NETGUARD_LOG" in os.environ:
        # A pytest-xdist worker inherits the controller's log: each worker writes its own, so what a test on
        # another worker refuses never shows up in the log a test here reads (tests/test_readme.py).
        path = f"{os.environ['FINLAKE_NETGUARD_LOG']}.{worker}"
        open(path, "a").close()
        os.environ["FINLAKE_NETGUARD_LOG"] = path
        config.stash[NETGUARD_LOG] = path
    elif "FINLAKE_NETGUARD_LOG" not in os.environ:
        handle, path = tempfile.mkstemp(prefix="finlake-netguard-", suffix=".log")
        os.close(handle)
        os.environ["FINLAKE_NETGUARD_LOG"] = path
        config.stash[NETGUARD_LOG] = path


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this session's guard log if nothing was refused (else keep it for a look)."""
    path = config.stash.get(NETGUARD_LOG, None)
    if path and os.path.exists(path) and not os.path.getsize(path):
        os.remove(path)


@pytest.fixture
def lambda_context() -> LocalLambdaContext:
    return LocalLambdaContext(
        function_name="finlake-test",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:finlake-test",
        aws_request_id="00000000-0000-0000-0000-000000000000",
    )


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(autouse=True)
def no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetch retries a body that is not the file after pauses of seconds: none in tests."""
    from functions.common import http

    monkeypatch.setattr(http, "RETRY_PAUSES_S", (0.0, 0.0))


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's test credentials and us-east-1 in the environment, for tests that start their own `mock_aws`."""
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",  # functions.common.lake reads it first, as Lambda sets it
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
