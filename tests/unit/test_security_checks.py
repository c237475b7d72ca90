"""`make security` beyond bandit (finlake/security.py): the checkov gate's verdict and the
pip-audit wrapper, against a vulnerability service on the loopback (the OSV API's format)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from finlake import security
from finlake.security import Skip, judge_checkov, load_skips, requirements_files

HAS_TOOLS = (security.SECURITY_BIN / "pip-audit").exists()
needs_tools = pytest.mark.skipif(not HAS_TOOLS, reason=".venv-security is made by `make security` (make test)")


def report(failed: list[tuple[str, str]], passed: int = 3) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {
            "passed_checks": [{}] * passed,
            "failed_checks": [
                {"check_id": c, "resource": r, "file_path": "/x/FinlakePlatform.template.json", "check_name": "n"}
                for c, r in failed
            ],
            "parsing_errors": [],
        },
        "summary": {"parsing_errors": 0},
    }


def test_a_finding_passes_only_when_a_skip_names_its_check_and_resource() -> None:
    skips = [Skip("CKV_AWS_18", ("AWS::S3::Bucket.StorageAccessLogs*",), "it is the log bucket")]
    accepted = judge_checkov([report([("CKV_AWS_18", "AWS::S3::Bucket.StorageAccessLogs1A2B")])], skips)
    assert accepted.ok and accepted.skipped == {"CKV_AWS_18": 1} and accepted.passed == 3
    other_bucket = judge_checkov([report([("CKV_AWS_18", "AWS::S3::Bucket.StorageRaw1A2B")])], skips)
    assert not other_bucket.ok and other_bucket.findings[0].startswith("CKV_AWS_18 AWS::S3::Bucket.StorageRaw1A2B")
    assert other_bucket.stale == skips  # and the skip that matched nothing is reported


def test_a_template_checkov_cannot_parse_fails_the_gate() -> None:
    broken = report([])
    broken["results"]["parsing_errors"] = ["/x/FinlakePipelines.template.json"]
    assert not judge_checkov([broken], []).ok


def test_every_skip_in_the_repository_has_a_check_resources_and_a_reason() -> None:
    skips = load_skips()
    assert {s.check for s in skips} == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_18"}
    assert all(len(s.reason) > 80 for s in skips)


def test_pip_audit_covers_every_requirements_file() -> None:
    names = {str(p.relative_to(security.ROOT)) for p in requirements_files()}
    assert names == {
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-nodeps.txt",
        "requirements-bench.txt",
        "requirements-security.txt",
        "functions/requirements.txt",
        "functions/bank/requirements.txt",
    }


# -- pip-audit against a vulnerability service on the loopback --------------------------------------

ADVISORIES = {
    ("requests", "2.31.0"): {
        "id": "GHSA-9wx4-h78v-vm56",
        "aliases": ["CVE-2024-35195"],
        "summary": "Requests Session object does not verify requests after making first request with verify=False",
        "affected": [
            {
                "package": {"name": "requests", "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}],
            }
        ],
    }
}


class Osv(BaseHTTPRequestHandler):
    """POST /v1/query {"package": {"name", "ecosystem"}, "version"} -> {"vulns": [...]} or {}."""

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        advisory = ADVISORIES.get((query["package"]["name"], query["version"]))
        body = json.dumps({"vulns": [advisory]} if advisory else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def osv_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Osv)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()


def audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pins: str, url: str) -> tuple[int, list[str]]:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(pins)
    monkeypatch.setattr(security, "requirements_files", lambda root=security.ROOT: [requirements])
    monkeypatch.setattr(security, "ROOT", tmp_path)
    lines: list[str] = []
    return security.pip_audit_main("osv", url, echo=lines.append), lines


@needs_tools
def test_a_pin_with_a_published_advisory_fails(tmp_path, monkeypatch, osv_url) -> None:
    status, lines = audit(tmp_path, monkeypatch, "requests==2.31.0\nidna==3.10\n", osv_url)
    assert status == 1
    assert "requests 2.31.0: CVE-2024-35195 (GHSA-9wx4-h78v-vm56) fixed in 2.32.0" in lines[0]


@needs_tools
def test_fixed_pins_pass(tmp_path, monkeypatch, osv_url) -> None:
    status, lines = audit(tmp_path, monkeypatch, "requests==2.32.4\n", osv_url)
    assert (status, lines) == (0, ["pip-audit requirements.txt: no known vulnerability"])


def test_an_unreachable_service_skips_the_audit_with_one_line(tmp_path, monkeypatch) -> None:
    status, lines = audit(tmp_path, monkeypatch, "requests==2.31.0\n", "http://127.0.0.1:9/v1/query")
    assert status == 0 and len(lines) == 1
    assert lines[0].startswith("pip-audit: skipped, the osv vulnerability service does not answer (")


def test_a_service_that_reports_nothing_known_counts_as_not_answering(tmp_path, monkeypatch, osv_url) -> None:
    """A mirror that answers without advisories would pass every pin: the probe's known advisory must be there."""
    monkeypatch.setattr(security, "PROBE_VERSION", "2.32.4")
    status, lines = audit(tmp_path, monkeypatch, "requests==2.31.0\n", osv_url)
    assert status == 0 and "reports no advisory for requests 2.32.4" in lines[0]


@needs_tools
def test_an_advisory_listed_with_its_reason_is_ignored(tmp_path, monkeypatch, osv_url) -> None:
    monkeypatch.setattr(security, "load_ignores", lambda: {"GHSA-9wx4-h78v-vm56": "no fixed release (example)"})
    status, lines = audit(tmp_path, monkeypatch, "requests==2.31.0\n", osv_url)
    assert (status, lines) == (0, ["pip-audit requirements.txt: no known vulnerability"])
