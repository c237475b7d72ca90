"""checkov runs on the real synthesized templates in `make security`; here, that its gate passes the
platform template as synthesized and fails it with one finding the skip list does not cover (the
notifier's log group without the lake key, as the code had it before: CKV_AWS_158)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from finlake import security
from tests.infra.conftest import PLATFORM

pytestmark = pytest.mark.skipif(
    not (security.SECURITY_BIN / "checkov").exists(), reason=".venv-security is made by `make security` (make test)"
)


def verdict(template: dict, path: Path) -> security.CheckovVerdict:
    path.write_text(json.dumps(template))
    return security.judge_checkov(security.run_checkov([path]), security.load_skips())


def test_the_gate_passes_the_synthesized_platform_and_fails_an_unencrypted_log_group(synthesized, tmp_path) -> None:
    template = synthesized.templates[PLATFORM]
    clean = verdict(template, tmp_path / "FinlakePlatform.template.json")
    assert clean.ok, (clean.findings, clean.stale)
    assert clean.passed > 50

    weakened = copy.deepcopy(template)
    (log_group,) = [k for k in weakened["Resources"] if k.startswith("NotifierLogs")]
    del weakened["Resources"][log_group]["Properties"]["KmsKeyId"]
    broken = verdict(weakened, tmp_path / "weakened.template.json")
    assert [f.split(" (")[0] for f in broken.findings] == [f"CKV_AWS_158 AWS::Logs::LogGroup.{log_group}"]
