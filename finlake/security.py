"""The security checks `make security` (and so `make test`) runs besides bandit.

- ``checkov``: synthesizes the app offline as the infra tests do (no bundling, so no pip and no
  network), once as `cdk.json` configures it and once with every optional resource switched on, and
  runs checkov on the CloudFormation templates. A finding fails unless ``security/checkov-skips.json``
  lists its check and resource with a reason; a skip that matches no finding fails too (the list
  stays true).
- ``pip-audit``: every pinned requirements file of the repository (``requirements*.txt`` and the
  layers' ``functions/**/requirements.txt``), each package at its pin (``--no-deps``), against the
  PyPI vulnerability service (or OSV). A known vulnerability fails unless
  ``security/pip-audit-ignores.json`` lists it (``{"id", "package", "reason"}``). When the service
  does not answer (offline, or a registry mirror without the per-release JSON API) the audit is
  skipped with one line saying so: CI never fails for being offline.

checkov and pip-audit pin many packages of their own, so they live in ``.venv-security``
(``requirements-security.txt``), created by the Makefile; this module runs in ``.venv`` (it needs
CDK to synthesize) and calls their executables. Exit status: 0 clean (or skipped offline), 1 findings.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.specs import ROOT

SECURITY_BIN = ROOT / ".venv-security" / "bin"
CHECKOV_SKIPS = ROOT / "security" / "checkov-skips.json"
PIP_AUDIT_IGNORES = ROOT / "security" / "pip-audit-ignores.json"
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
# Every optional resource on, so checkov sees it too (the Google Sheets secret of the bank domain,
# the dashboard).
ALL_OPTIONS = {"google_sheets": {"enabled": True, "spreadsheet_id": "checkov"}, "dashboard": True}
# A release with a published advisory that will stay published (requests 2.31.0: GHSA-9wx4-h78v-vm56,
# CVE-2024-35195): the service "answers" only when it reports it.
PROBE_PACKAGE, PROBE_VERSION = "requests", "2.31.0"
PYPI_JSON = "https://pypi.org/pypi/{name}/{version}/json"
OSV_URL = "https://api.osv.dev/v1/query"
PROBE_TIMEOUT_S = 10

Echo = Callable[[str], None]


# -- checkov --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    """An accepted checkov finding: ``check`` on the resources matching ``resources`` (fnmatch patterns), and why."""

    check: str
    resources: tuple[str, ...]
    reason: str

    def covers(self, check: str, resource: str) -> bool:
        """Whether this skip accepts ``check`` on ``resource`` (``AWS::Type.LogicalId``)."""
        return check == self.check and any(fnmatch.fnmatchcase(resource, p) for p in self.resources)


def load_skips(path: Path = CHECKOV_SKIPS) -> list[Skip]:
    """The accepted findings; each needs a check id, resource patterns and a reason."""
    skips = []
    for entry in json.loads(path.read_text())["skips"]:
        if not entry.get("reason") or not entry.get("resources") or not str(entry.get("check", "")).startswith("CKV"):
            raise ValueError(f"{path.name}: a skip needs a check, resources and a reason: {entry}")
        skips.append(Skip(entry["check"], tuple(entry["resources"]), entry["reason"]))
    return skips


def synthesize(outdir: Path) -> list[Path]:
    """The templates of the app as configured, then with every option on (in ``outdir``)."""
    from stacks.app import build_app

    templates = []
    for variant, context in (("default", None), ("all-options", ALL_OPTIONS)):
        assembly = build_app(context=context, outdir=str(outdir / variant), cdk_context=NO_BUNDLING).synth()
        templates += [Path(stack.template_full_path) for stack in assembly.stacks]
    return templates


def run_checkov(templates: Sequence[Path]) -> list[dict[str, Any]]:
    """Run checkov on ``templates`` offline (``--skip-download``); its JSON reports, one per framework run.

    Raises
    ------
    RuntimeError
        When checkov fails (an exit code other than 0 or 1, or no output).
    """
    argv = [str(SECURITY_BIN / "checkov"), "--framework", "cloudformation", "--skip-download", "-o", "json"]
    for template in templates:
        argv += ["-f", str(template)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RuntimeError(f"checkov failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


@dataclass(frozen=True)
class CheckovVerdict:
    """What checkov found after the skips: findings not accepted, counts accepted, stale skips, parse errors."""

    findings: list[str]  # "CKV_AWS_x AWS::Type.LogicalId (file): title"
    skipped: dict[str, int]  # check -> findings accepted by its skip
    stale: list[Skip]  # skips that matched nothing
    passed: int
    parse_errors: list[str]

    @property
    def ok(self) -> bool:
        """True when nothing is left: no finding, no stale skip, no parse error."""
        return not self.findings and not self.stale and not self.parse_errors


def judge_checkov(reports: Iterable[dict[str, Any]], skips: Sequence[Skip]) -> CheckovVerdict:
    """Judge checkov's JSON ``reports`` against ``skips``.

    Parameters
    ----------
    reports
        checkov's ``-o json`` reports, one per framework run (``results.failed_checks``, ``passed_checks``...).
    skips
        The accepted findings (``security/checkov-skips.json``).

    Returns
    -------
    CheckovVerdict
        Findings no skip covers, each skip's count, the skips that matched nothing, passed checks and parse errors.
    """
    findings, skipped, passed, errors = [], {s.check: 0 for s in skips}, 0, []
    used: set[Skip] = set()
    for report in reports:
        results = report.get("results", {})
        passed += len(results.get("passed_checks", []))
        parse_errors = [str(e) for e in results.get("parsing_errors", [])]
        if not parse_errors and report.get("summary", {}).get("parsing_errors"):
            parse_errors = [f"{report['summary']['parsing_errors']} template(s) could not be parsed"]
        errors += parse_errors
        for failed in results.get("failed_checks", []):
            check, resource = failed["check_id"], failed["resource"]
            skip = next((s for s in skips if s.covers(check, resource)), None)
            if skip:
                used.add(skip)
                skipped[check] += 1
            else:
                where = Path(failed.get("file_path", "")).name
                findings.append(f"{check} {resource} ({where}): {failed.get('check_name', '')}")
    stale = [s for s in skips if s not in used]
    return CheckovVerdict(findings=findings, skipped=skipped, stale=stale, passed=passed, parse_errors=errors)


def checkov_main(echo: Echo = print) -> int:
    """Synthesize the app, run checkov on its templates and print the verdict; ``make security``'s checkov step.

    Returns
    -------
    int
        The exit code: 0 when the verdict is ok, else 1.
    """
    skips = load_skips()
    with tempfile.TemporaryDirectory(prefix="finlake-checkov-") as folder:
        templates = synthesize(Path(folder))
        verdict = judge_checkov(run_checkov(templates), skips)
    accepted = sum(verdict.skipped.values())
    echo(
        f"checkov: {len(templates)} templates, {verdict.passed} checks passed, {accepted} findings accepted by "
        f"{len(skips)} skips ({CHECKOV_SKIPS.relative_to(ROOT)}), {len(verdict.findings)} not accepted"
    )
    for finding in verdict.findings:
        echo(f"  FINDING {finding}")
    for skip in verdict.stale:
        echo(f"  STALE SKIP {skip.check} {list(skip.resources)}: matches no finding any more; remove it")
    for error in verdict.parse_errors:
        echo(f"  PARSE ERROR {error}")
    return 0 if verdict.ok else 1


# -- pip-audit ------------------------------------------------------------------------------------


def requirements_files(root: Path = ROOT) -> list[Path]:
    """Every pinned requirements file of the repository: the venvs' and the Lambda layers'."""
    files = sorted(root.glob("requirements*.txt"))
    files += sorted((root / "functions").rglob("requirements*.txt"))
    return files


def _post_or_get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    """The JSON answer of an http(s) URL (a POST of ``body`` when given)."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"not an http(s) URL: {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    # bandit B310 warns of file:// and custom schemes: the scheme is checked above.
    with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as response:  # nosec B310
        return json.load(response)


def service_answers(service: str, osv_url: str) -> str:
    """Empty when the vulnerability service reports the probe's known advisory, else why not."""
    try:
        if service == "osv":
            query = {"package": {"name": PROBE_PACKAGE, "ecosystem": "PyPI"}, "version": PROBE_VERSION}
            vulns = _post_or_get_json(osv_url, query).get("vulns")
        else:
            url = PYPI_JSON.format(name=PROBE_PACKAGE, version=PROBE_VERSION)
            vulns = _post_or_get_json(url).get("vulnerabilities")
    except (OSError, ValueError, AttributeError) as exc:  # URLError, HTTPError, timeouts, not a JSON object
        return f"{type(exc).__name__}: {exc}"
    return "" if vulns else f"it reports no advisory for {PROBE_PACKAGE} {PROBE_VERSION}"


def load_ignores(path: Path = PIP_AUDIT_IGNORES) -> dict[str, str]:
    """Vulnerability id -> reason, for advisories with no fix that finlake accepts."""
    ignores = {}
    for entry in json.loads(path.read_text()):
        if not entry.get("id") or not entry.get("package") or not entry.get("reason"):
            raise ValueError(f"{path.name}: an ignore needs an id, a package and a reason: {entry}")
        ignores[entry["id"]] = entry["reason"]
    return ignores


def audit_file(path: Path, service: str, osv_url: str, ignores: Iterable[str]) -> list[str]:
    """Problems with one requirements file: each vulnerable pin, or a pin the service could not audit."""
    argv = [str(SECURITY_BIN / "pip-audit"), "-r", str(path), "--no-deps", "--disable-pip"]
    argv += ["--progress-spinner", "off", "-f", "json", "-s", service]
    if service == "osv":
        argv += ["--osv-url", osv_url]
    for vuln in ignores:
        argv += ["--ignore-vuln", vuln]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        return [f"pip-audit failed (exit {result.returncode}): {result.stderr.strip()[-1500:]}"]
    problems = []
    for dependency in report.get("dependencies", []):
        name, version = dependency.get("name"), dependency.get("version")
        if dependency.get("skip_reason"):
            problems.append(f"{name} {version or ''}: not audited ({dependency['skip_reason']})")
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            aliases = ", ".join(vuln.get("aliases", []))
            problems.append(f"{name} {version}: {vuln['id']} ({aliases}) fixed in {fixes}")
    return problems


def pip_audit_main(service: str = "pypi", osv_url: str = OSV_URL, echo: Echo = print) -> int:
    """pip-audit every requirements file against ``service`` and print one line per file.

    Skipped (exit 0, said so) when the vulnerability service does not answer: the machine is offline.

    Returns
    -------
    int
        The exit code: 1 when a file has a problem (a vulnerable pin not ignored, or a pin not audited), else 0.
    """
    why_not = service_answers(service, osv_url)
    if why_not:
        echo(f"pip-audit: skipped, the {service} vulnerability service does not answer ({why_not[:200]})")
        return 0
    ignores = load_ignores()
    failed = False
    for path in requirements_files():
        problems = audit_file(path, service, osv_url, ignores)
        echo(f"pip-audit {path.relative_to(ROOT)}: {'; '.join(problems) if problems else 'no known vulnerability'}")
        failed = failed or bool(problems)
    return 1 if failed else 0


def main(argv: list[str] | None = None, echo: Echo = print) -> int:
    """The ``python -m finlake.security {checkov,pip-audit}`` entry point.

    Returns
    -------
    int
        The exit code of the sub-command.
    """
    parser = argparse.ArgumentParser(prog="python -m finlake.security", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("checkov", help="checkov on the synthesized templates, with security/checkov-skips.json")
    audit = sub.add_parser("pip-audit", help="pip-audit on every requirements file (skipped offline)")
    audit.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    audit.add_argument("--osv-url", default=OSV_URL)
    args = parser.parse_args(argv)
    if args.command == "checkov":
        return checkov_main(echo)
    return pip_audit_main(args.service, args.osv_url, echo)


if __name__ == "__main__":
    sys.exit(main())
