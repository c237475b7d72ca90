"""The console in a real browser: one workspace filled by real local runs (bndes; bank from
generated app exports; 15 months of stocks from small generated COTAHIST files; three months
of cards; one bndes run failed by a maintenance page, its source then restored so that Redrive can
succeed), the console served on 127.0.0.1 by its own Flask server in a thread, and headless
Debian Chromium (`make browser` installs it) driven by playwright with every request that is
not for 127.0.0.1 refused and recorded.

``FINLAKE_CONSOLE_SHOTS=DIR`` (``make console-shots``) writes a screenshot of each page there.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from finlake.cli import main
from finlake.console.app import create_app
from finlake.local.workspace import Workspace
from finlake.ops.executions import Request
from finlake.samples import b3
from finlake.samples.bndes import write_bndes_cassette
from stacks.specs import BNDES
from tests.bndes_outage import break_the_source

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GOOD_DAY, BROKEN_DAY = "2026-11-20", "2026-11-23"
STOCKS_UNTIL = date(2024, 3, 28)  # with 2023: more than 252 sessions, so drawdown_252 has values


@dataclass
class Lake:
    ws: Workspace
    good: str  # a SUCCEEDED bndes execution
    failed: str  # the FAILED bndes execution (its dead letter waits on the queue)


def finlake(ws: Workspace, *args: str) -> Any:
    return CliRunner().invoke(main, ["--home", str(ws.root), *args], catch_exceptions=False)


def _ok(ws: Workspace, *args: str) -> str:
    result = finlake(ws, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("console")
    ws = Workspace.open(root / "ws")
    files = root / "files"
    _ok(ws, "run", "bndes", "--date", GOOD_DAY)
    break_the_source(ws)
    assert finlake(ws, "run", "bndes", "--date", BROKEN_DAY).exit_code == 1
    write_bndes_cassette(ws.samples_dir / "bndes-ckan")  # the source is back: Redrive can succeed
    _ok(ws, "generate", "bank", "--end-month", "2024-09", "--months", "3", "--out", str(files / "bank"))
    bank_inputs = [arg for path in sorted((files / "bank").iterdir()) for arg in ("--input", str(path))]
    _ok(ws, "run", "bank", "--month", "2024-09", *bank_inputs)
    stocks = files / "stocks"
    stocks.mkdir()
    stocks_inputs = []
    for year, until, records in ((STOCKS_UNTIL.year - 1, None, 25_000), (STOCKS_UNTIL.year, STOCKS_UNTIL, 6_000)):
        cotahist = stocks / f"COTAHIST_A{year}.ZIP"
        content = b3.cotahist_yearly(year, records_target=records, until=until)
        cotahist.write_bytes(b3.cotahist_zip(cotahist.name, content, f"COTAHIST_A{year}.TXT"))
        stocks_inputs += ["--input", str(cotahist)]
        for day in b3.recomposition_days(year):
            if day < STOCKS_UNTIL:
                portfolio = stocks / f"IBOV-portfolio-{day}.json"
                portfolio.write_bytes(b3.ibov_portfolio_json(day))
                stocks_inputs += ["--input", str(portfolio)]
    _ok(ws, "run", "stocks", "--date", STOCKS_UNTIL.isoformat(), *stocks_inputs)
    _ok(
        ws,
        "generate",
        "cards",
        "--clients",
        "60",
        "--months",
        "3",
        "--end-month",
        "2024-09",
        "--out",
        str(files / "cards"),
    )
    cards_inputs = [arg for path in sorted((files / "cards").glob("tb_*.csv")) for arg in ("--input", str(path))]
    _ok(ws, "run", "cards", "--month", "2024-09", *cards_inputs)
    return Lake(ws, good=Request(BNDES, date=GOOD_DAY).name(), failed=Request(BNDES, date=BROKEN_DAY).name())


@pytest.fixture(scope="session")
def console_url(lake: Lake) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(lake.ws).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@dataclass
class Browser:
    page: Any
    refused: list[str]  # requests for anything but 127.0.0.1, refused
    shots: Path | None

    def shot(self, name: str) -> None:
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def browser(console_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    profile = tmp_path_factory.mktemp("chromium-profile")
    shots = os.environ.get("FINLAKE_CONSOLE_SHOTS")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
            accept_downloads=True,
        )

        def only_local(route: Any) -> None:
            if route.request.url.startswith(console_url) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield Browser(page, refused, Path(shots).resolve() if shots else None)
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
