"""The BNDES CKAN portal down for maintenance, in a workspace's offline cassette (local mode's BNDES source)."""

from __future__ import annotations

from pathlib import Path

from finlake.local.workspace import Workspace
from functions.bndes.ckan import DEFAULT_BASE_URL
from functions.common.http import write_cassette_entry

PACKAGE_URL = f"{DEFAULT_BASE_URL}/api/3/action/package_show?id=balanco-patrimonial"


def break_the_source(ws: Workspace) -> None:
    """Break the workspace's own BNDES cassette with `maintenance_page`."""
    maintenance_page(ws.samples_dir / "bndes-ckan")


def maintenance_page(cassette: Path) -> None:
    """Make the cassette's package lookup answer the portal's maintenance page (HTML with a 200), as CKAN does
    when down."""
    write_cassette_entry(
        cassette,
        PACKAGE_URL,
        b"<!DOCTYPE html><html><body>Manutencao programada</body></html>",
        headers={"Content-Type": "text/html"},
        file="api/package_show-balanco-patrimonial.json",
    )
