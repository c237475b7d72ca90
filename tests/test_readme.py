"""README.md, executed: every shell command and SQL example of the README runs here, in the
README's order, against one fresh workspace, with the network blocked (tests/offline/netguard.py),
and what it prints is checked against what the README says.

How the README is read (markdown-it, the parser rich already brings):

- ```` ```bash ```` blocks: each command (``\\`` continuations and multi-line quotes joined) runs from a
  fresh "checkout" folder with ``../shared`` beside it (and the Makefile, for ``make`` targets).
  ``.venv/bin/finlake ...`` runs in this process through click (one Spark JVM for all of them);
  anything with a pipe, a redirection or another program runs in ``bash`` with ``.venv`` linked in,
  the guard loaded as ``sitecustomize`` and no ``JSII_*`` variable. A trailing ``# exit N`` comment
  is the exit code expected (else 0).
- ```` ```sql ```` blocks and inline code spans that start with ``SELECT``: `finlake query`, which
  must return at least one row.
- Plain ```` ``` ```` blocks need a ``<!-- readme-test: ... -->`` comment just before them: ``output of
  "TEXT"`` (its lines, ``...`` skipping any, must appear in order in the output of the last command
  containing TEXT; a line ending in ``...`` stands for the lines that start with it; runs of spaces
  count as one), or ``skip REASON``.
- Commands that cannot run here are skipped by `SKIPS` below, each with its reason, shown by
  ``pytest -ra``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from finlake.cli import main as finlake_cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"

pytestmark = pytest.mark.slow
# The Makefile and what its .venv stamp depends on, linked into the fresh checkout (the code itself is
# .venv's editable install of this one).
MAKE_FILES = (
    "Makefile",
    "pyproject.toml",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-nodeps.txt",
    "requirements-bench.txt",
)

# (pattern searched in the command, why it is not run here). The first match wins.
SKIPS: list[tuple[str, str]] = [
    (r"--aws\b", "acts on the deployed stacks with AWS credentials; tests/ops runs these commands against moto"),
    (r"^npx ", "deploys to an AWS account through the npm CDK CLI (no account here)"),
    (r"^aws ", "the AWS CLI against an AWS account (no account here)"),
    (
        r"^make demo\b",
        "the whole demo (~4 min on 2 cores); its pieces run here one by one (run bndes, run stocks, "
        "run cards --input, run bank, run bank --input)",
    ),
    (r"^make test\b", "the test suite itself"),
    (r"^make console-shots\b", "runs tests/console (the browser tests), which the suite runs itself"),
    (
        r"^make console\b|\bfinlake( --home \S+)? console\b",
        "serves the console until Ctrl-C; tests/console drives it in headless Chromium",
    ),
    (r"^make venv\b", "the suite already runs in that .venv"),
    (r"^make (synth|cdk-synth)\b", "builds the bank layer with pip from PyPI; tests/infra synthesizes offline"),
    (
        r"\bmake aws-smoke\b(?!.*--dry-run)",
        "deploys both stacks into an AWS account and runs every domain there (no account here); "
        "its --dry-run, which prints every call it would make, runs here",
    ),
    (r"^make (cdk-deploy|cdk-diff|aws-)(?!.*--dry-run)", "acts on a real AWS account (no account here)"),
    (r"\[", "a synopsis: [...] marks optional parts; the runnable examples are the other commands"),
]


@dataclass
class Example:
    line: int  # in README.md, 1-based
    kind: str  # "shell" | "sql" | "output"
    text: str
    exit_code: int = 0
    skip: str = ""
    output_of: str = ""  # kind "output": the command whose output holds these lines

    @property
    def id(self) -> str:
        words = re.sub(r"\s+", " ", self.text.replace(".venv/bin/", "")).strip()
        return f"L{self.line}-{self.kind}-{words[:48]}"


def _commands(content: str) -> Iterator[tuple[int, str]]:
    """(offset line, command) of a bash block: continuation lines and open quotes joined."""
    pending: list[str] = []
    start = 0
    for offset, raw in enumerate(content.splitlines()):
        if not pending:
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            start = offset
        pending.append(raw)
        text = "\n".join(pending)
        if text.endswith("\\"):
            continue
        try:
            shlex.split(text, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        yield start, text.replace("\\\n", " ")
        pending = []


def _shell_example(line: int, text: str) -> Example:
    command = text.split(" #")[0].strip() if re.search(r"\s#\s", text) else text.strip()
    expected = re.search(r"#\s*exit (\d+)", text)
    skip = next((why for pattern, why in SKIPS if re.search(pattern, command.replace(".venv/bin/", ""))), "")
    return Example(line, "shell", command, int(expected[1]) if expected else 0, skip)


def _fence_examples(lang: str, line: int, content: str, marker: str) -> list[Example]:
    if lang == "bash":
        return [_shell_example(line + 1 + offset, command) for offset, command in _commands(content)]
    if lang == "sql":
        return [Example(line, "sql", content.strip(), skip=marker.removeprefix("skip").strip())]
    if lang:
        return []  # e.g. the mermaid diagram
    if marker.startswith("output of"):
        of = re.search(r'"(.+)"', marker)
        return [Example(line, "output", content, output_of=of[1] if of else "")]
    return [Example(line, "output", content, skip=marker.removeprefix("skip").strip() or "NO readme-test MARKER")]


def readme_examples(text: str) -> list[Example]:
    examples: list[Example] = []
    marker = ""
    for token in MarkdownIt().parse(text):
        line = (token.map[0] + 1) if token.map else 0
        if token.type == "html_block":  # a marker applies to the fence right after it
            found = re.search(r"<!--\s*readme-test:\s*(.*?)\s*-->", token.content, re.S)
            marker = found[1] if found else ""
            continue
        if token.type == "fence":
            examples += _fence_examples(token.info.strip(), line, token.content, marker)
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "code_inline" and re.match(r"SELECT\s", child.content, re.I):
                    examples.append(Example(line, "sql", child.content))
        marker = ""
    return examples


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


@dataclass
class Ran:
    exit_code: int
    output: str  # stdout and stderr
    stderr: str


class ReadmeSession:
    """The fresh checkout the README's commands run in, one after the other."""

    def __init__(self, folder: Path):
        self.checkout = folder / "checkout"
        self.checkout.mkdir()
        (folder / "shared").symlink_to(SHARED)
        (self.checkout / ".venv").symlink_to(ROOT / ".venv")
        for name in MAKE_FILES:  # `make` targets need the Makefile; .venv's stamp is judged by the same files
            (self.checkout / name).symlink_to(ROOT / name)
        self.home = self.checkout / ".finlake"
        self.done: dict[int, Ran] = {}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
        self.env["FINLAKE_HOME"] = str(self.home)
        # the guard's log is the session's: what other tests refused before is not the README's
        self.netguard_log = Path(os.environ["FINLAKE_NETGUARD_LOG"])
        self.netguard_from = self.netguard_log.stat().st_size if self.netguard_log.exists() else 0

    def run_through(self, index: int) -> Ran | None:
        """Run every runnable example before ``index`` not run yet, then ``index``'s (None if skipped)."""
        for i in range(index + 1):
            example = EXAMPLES[i]
            if i not in self.done and not example.skip and example.kind != "output":
                self.done[i] = self._run(example)
        return self.done.get(index)

    def _run(self, example: Example) -> Ran:
        if example.kind == "sql":
            return self._finlake(["query", example.text])
        words = shlex.split(example.text, comments=True)
        plain = not re.search(r"[|<>;&*$`]", example.text.split(" #")[0])
        if plain and words and words[0] == ".venv/bin/finlake":
            return self._finlake(words[1:])
        done = subprocess.run(
            ["bash", "-c", example.text], cwd=self.checkout, env=self.env, capture_output=True, text=True, timeout=900
        )
        return Ran(done.returncode, done.stdout + done.stderr, done.stderr)

    def _finlake(self, args: list[str]) -> Ran:
        cwd = Path.cwd()
        os.chdir(self.checkout)
        try:
            result = CliRunner().invoke(finlake_cli, args, env={"FINLAKE_HOME": str(self.home)}, prog_name="finlake")
        finally:
            os.chdir(cwd)
        return Ran(result.exit_code, result.output, result.stderr)

    def output_of(self, text: str, before: int) -> Ran:
        for i in range(before - 1, -1, -1):
            if i in self.done and text in EXAMPLES[i].text:
                return self.done[i]
        raise AssertionError(f"no command containing {text!r} ran before this block")


@pytest.fixture(scope="module")
def readme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadmeSession]:
    session = ReadmeSession(tmp_path_factory.mktemp("readme"))
    yield session
    shutil.rmtree(session.checkout / "samples", ignore_errors=True)


def _email_line(line: str) -> str:
    """A line without its indentation, the ``   | `` a run prints an email's lines behind, and the width
    of its gaps (a table's columns widen with their widest cell)."""
    return re.sub(r"\s+", " ", re.sub(r"^\s*\|\s?", "", line)).strip()


def _appears_in_order(expected: str, output: str) -> list[str]:
    """The expected lines (``...`` skips any; a line ending in ``...`` is the start of one) missing from
    ``output`` in that order, as printed (an email's lines may be shown with or without the ``   | `` of
    a run's output)."""
    lines = [_email_line(line) for line in output.splitlines()]
    missing, at = [], 0
    for want in (_email_line(w) for w in expected.splitlines()):
        if not want or want == "...":
            continue
        start = want.removesuffix("...").rstrip() if want.endswith("...") else None
        found = next(
            (i for i in range(at, len(lines)) if lines[i] == want or (start and lines[i].startswith(start))), None
        )
        if found is None:
            missing.append(want)
        else:
            at = found + 1
    return missing


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=[e.id for e in EXAMPLES])
def test_readme_example(readme: ReadmeSession, index: int) -> None:
    example = EXAMPLES[index]
    if example.skip:
        pytest.skip(example.skip)
    if example.kind == "output":
        readme.run_through(index - 1) if index else None
        ran = readme.output_of(example.output_of, index)
        missing = _appears_in_order(example.text, ran.output)
        assert not missing, f"README line {example.line}: not printed by {example.output_of!r}: {missing}"
        return
    ran = readme.run_through(index)
    assert ran is not None
    assert ran.exit_code == example.exit_code, f"README line {example.line}: {example.text}\n{ran.output[-3000:]}"
    assert "Traceback" not in ran.output, ran.output[-3000:]
    if example.exit_code == 2:
        assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    if example.kind == "sql" or " query " in f" {example.text} ":
        assert not ran.output.rstrip().endswith("(0 rows)"), f"README line {example.line} returns no row"
        assert len(ran.output.strip().splitlines()) > 1, ran.output


def test_every_plain_block_is_marked() -> None:
    unmarked = [e.line for e in EXAMPLES if e.kind == "output" and "NO readme-test MARKER" in e.skip]
    assert not unmarked, f"README blocks at lines {unmarked} need <!-- readme-test: output of ... / skip ... -->"


def test_nothing_reached_for_the_network(readme: ReadmeSession) -> None:
    """Last in the module: after every README command, the guard logged no attempt."""
    readme.run_through(len(EXAMPLES) - 1)
    log = readme.netguard_log
    refused = log.read_bytes()[readme.netguard_from :].decode() if log.exists() else ""
    assert not refused.strip(), refused


def test_output_blocks_match_lines_in_order_with_skips_and_line_starts() -> None:
    output = "== cards\n   SUCCEEDED in 19.8 s\n   rows in 5 = 4 curated + 1 quarantined; tables x\n   | Invoices: ok\n"
    assert _appears_in_order("SUCCEEDED in ...\n...\n| Invoices: ok", output) == []
    assert _appears_in_order("rows in 5 = 4 curated + 1 quarantined; ...\nInvoices: ok", output) == []
    assert _appears_in_order("Invoices: ok\nSUCCEEDED in ...", output) == ["SUCCEEDED in ..."]  # order holds
    assert _appears_in_order("rows in 5 = 4 curated", output) == ["rows in 5 = 4 curated"]  # whole lines
    assert _appears_in_order("  TOTAL    3.02", "       TOTAL                   3.02\n") == []  # column widths
