from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from finlake.samples.bndes import PACKAGE_UUID, resource_id, write_bndes_cassette
from functions.bndes.ckan import CkanClient, Resource, classify_standard, extract_year
from functions.bndes.parse import parse_balance_sheet
from functions.common.http import (
    HttpResponse,
    NotTheFile,
    ReplayHttp,
    SourceError,
    SourceFormatError,
    SourceUnavailable,
    Urllib3Http,
    write_cassette_entry,
)
from tests.http_fakes import FakeHttp

BASE = "https://dadosabertos.bndes.gov.br"
PACKAGE_URL = f"{BASE}/api/3/action/package_show?id=balanco-patrimonial"


def ok_json(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"}, json.dumps(payload).encode("utf-8"))


def envelope(result: Any) -> dict[str, Any]:
    return {"help": f"{BASE}/api/3/action/help_show?name=package_show", "success": True, "result": result}


PACKAGE = {
    "id": "pkg-uuid",
    "name": "balanco-patrimonial",
    "title": "Balanço Patrimonial",
    "metadata_modified": "2024-02-01T10:00:00.000000",
    "resources": [
        {
            "id": "r-1",
            "name": "Balanço Patrimonial BRGAAP 2023",
            "url": f"{BASE}/dataset/pkg-uuid/resource/r-1/download/bp-brgaap-2023.csv",
            "format": "CSV",
            "hash": "0123456789abcdef0123456789abcdef",
            "last_modified": "2024-02-01T10:00:00.000000",
            "datastore_active": True,
            "size": 1234,
        },
        {
            "id": "r-2",
            "name": "Balanço Patrimonial - Conglomerado Prudencial",
            "url": f"{BASE}/dataset/pkg-uuid/resource/r-2/download/bp-prudencial-2022.xlsx",
            "format": "XLSX",
            "hash": "",
            "last_modified": None,
        },
    ],
}


def csv_resource(url: str = f"{BASE}/x/bp-ifrs-2024.csv", fmt: str = "CSV") -> Resource:
    return Resource(id="r", name="Balanço IFRS 2024", url=url, format=fmt)


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Balanço Patrimonial BRGAAP 2023", "BRGAAP"),
        ("balanço patrimonial br gaap", "BRGAAP"),
        ("Balanço - BR-GAAP", "BRGAAP"),
        ("Balanço Patrimonial IFRS 2023", "IFRS"),
        ("Balanço Patrimonial Conglomerado Prudencial 2023", "PRUDENCIAL"),
        ("BALANÇO CONGLOMERADO PRUDÊNCIAL", "PRUDENCIAL"),
        ("Demonstração do resultado", "UNKNOWN"),
    ],
)
def test_classify_standard(name: str, expected: str) -> None:
    assert classify_standard(name) == expected


def test_extract_year_from_name_then_url_file_name() -> None:
    assert extract_year("Balanço BRGAAP 2023") == 2023
    assert extract_year("Balanço BRGAAP", f"{BASE}/dataset/a2021b/resource/x/download/bp-2019.csv") == 2019
    assert extract_year("Balanço BRGAAP", f"{BASE}/dataset/a2021b/resource/x/download/bp.csv") is None
    assert extract_year("código 120235") is None


def test_resource_derives_standard_and_year() -> None:
    resource = Resource(id="r", name="Balanço Patrimonial IFRS 2024", url="u", format="CSV")
    assert (resource.standard, resource.year) == ("IFRS", 2024)


# --------------------------------------------------------------------------- package_show


def test_package_show_parses_the_envelope() -> None:
    http = FakeHttp(ok_json(envelope(PACKAGE)))
    package = CkanClient(http).package_show()
    assert http.urls == [PACKAGE_URL]
    assert (package.id, package.name, package.title) == (
        "pkg-uuid",
        "balanco-patrimonial",
        "Balanço Patrimonial",
    )
    first, second = package.resources
    assert first == Resource(
        id="r-1",
        name="Balanço Patrimonial BRGAAP 2023",
        url=f"{BASE}/dataset/pkg-uuid/resource/r-1/download/bp-brgaap-2023.csv",
        format="CSV",
        md5="0123456789abcdef0123456789abcdef",
        last_modified="2024-02-01T10:00:00.000000",
        datastore_active=True,
    )
    assert (first.standard, first.year) == ("BRGAAP", 2023)
    assert (second.standard, second.year, second.md5, second.last_modified) == (
        "PRUDENCIAL",
        2022,
        None,
        None,
    )


def test_custom_base_url_and_package() -> None:
    http = FakeHttp(ok_json(envelope(PACKAGE)))
    CkanClient(http, "http://localhost:5000/").package_show("outro")
    assert http.urls == ["http://localhost:5000/api/3/action/package_show?id=outro"]


def test_success_false_at_200_is_retried_then_unavailable() -> None:
    body = {"help": "h", "success": False, "error": {"message": "Not found", "__type": "Not Found Error"}}
    http = FakeHttp(*[ok_json(body)] * 3)
    with pytest.raises(NotTheFile, match=r"a JSON error object: success=false.*Not found") as info:
        CkanClient(http).package_show()
    assert str(info.value).startswith(f"{PACKAGE_URL} answered HTTP 200 with")
    assert http.urls == [PACKAGE_URL] * 3


def test_html_with_status_200_is_retried_then_unavailable() -> None:
    page = HttpResponse(200, {"Content-Type": "text/html"}, b"\xef\xbb\xbf\n <!DOCTYPE html><html><body>Manutencao")
    with pytest.raises(SourceUnavailable) as info:
        CkanClient(FakeHttp(page, page, page)).package_show()
    message = str(info.value)
    assert message.startswith(f"{PACKAGE_URL} answered HTTP 200 with an error page (HTML)")
    assert "<!DOCTYPE html><html><body>Manutencao" in message and "3 times" in message


def test_error_page_once_then_the_envelope_succeeds() -> None:
    page = HttpResponse(200, {"Content-Type": "text/html"}, b"<html><body>busy</body></html>")
    http = FakeHttp(page, ok_json(envelope(PACKAGE)))
    assert CkanClient(http).package_show().name == "balanco-patrimonial"
    assert len(http.urls) == 2


def test_empty_200_is_retried_then_unavailable() -> None:
    with pytest.raises(NotTheFile, match="an empty body, 3 times"):
        CkanClient(FakeHttp(*[HttpResponse(200, {}, b"")] * 3)).package_show()


def test_invalid_json_is_a_format_error() -> None:
    with pytest.raises(SourceFormatError, match=r"got invalid JSON .*'\{\"success\": tru'"):
        CkanClient(FakeHttp(HttpResponse(200, {}, b'{"success": tru'))).package_show()


def test_json_without_resources_is_a_format_error() -> None:
    with pytest.raises(SourceFormatError, match="'resources' list"):
        CkanClient(FakeHttp(ok_json(envelope({"id": "x"})))).package_show()


def test_503_is_unavailable_and_404_is_a_source_error() -> None:
    with pytest.raises(SourceUnavailable, match="answered HTTP 503"):
        CkanClient(FakeHttp(HttpResponse(503, {}, b"busy"))).package_show()
    with pytest.raises(SourceError, match=r"expected HTTP 200 .* got 404") as info:
        CkanClient(FakeHttp(ok_json({"success": False}, status=404))).package_show()
    assert not isinstance(info.value, SourceUnavailable | SourceFormatError)


# --------------------------------------------------------------------------- download


def test_download_returns_csv_bytes() -> None:
    http = FakeHttp(HttpResponse(200, {"content-type": "text/csv"}, b"data;x\n31/12/2023;1\n"))
    assert CkanClient(http).download(csv_resource()) == b"data;x\n31/12/2023;1\n"
    assert http.urls == [f"{BASE}/x/bp-ifrs-2024.csv"]


def test_download_rejects_html_empty_and_non_csv() -> None:
    client = CkanClient(FakeHttp(*[HttpResponse(200, {}, b"<html><body>login</body></html>")] * 3))
    with pytest.raises(NotTheFile, match=r"bp-ifrs-2024.csv answered HTTP 200 with an error page .*'<html>"):
        client.download(csv_resource())
    client = CkanClient(FakeHttp(*[HttpResponse(200, {}, b"  \n")] * 3))
    with pytest.raises(NotTheFile, match="an empty body"):
        client.download(csv_resource())
    client = CkanClient(FakeHttp(HttpResponse(200, {}, b"PK\x03\x04rest")))
    with pytest.raises(SourceFormatError, match="got a ZIP/XLSX archive"):
        client.download(csv_resource())
    http = FakeHttp()
    with pytest.raises(SourceFormatError, match="expected a CSV resource, got format 'XLSX'"):
        CkanClient(http).download(csv_resource(fmt="XLSX"))
    assert http.urls == []  # not even fetched


def test_download_unwraps_a_base64_body() -> None:
    import base64

    wrapped = HttpResponse(200, {}, b'"' + base64.b64encode(b"data;x\n31/12/2023;1\n") + b'"')
    response = CkanClient(FakeHttp(wrapped)).download_response(csv_resource())
    assert response.body == b"data;x\n31/12/2023;1\n"
    assert response.header("x-finlake-unwrapped") == "base64"


def test_resource_keeps_its_declared_encoding() -> None:
    resource = Resource.from_ckan({"id": "r", "name": "n", "url": "u.csv", "encoding": "Windows-1252"})
    assert resource.encoding == "Windows-1252"
    assert Resource.from_ckan({"id": "r", "encoding": ""}).encoding is None


def test_resource_without_format_is_csv_by_extension() -> None:
    assert csv_resource(fmt="").is_csv
    assert not csv_resource(url="https://x/y.xlsx", fmt="").is_csv


# --------------------------------------------------------------------------- datastore_search


def test_datastore_search_pages_until_total() -> None:
    pages = [[{"_id": 1}, {"_id": 2}], [{"_id": 3}, {"_id": 4}], [{"_id": 5}]]
    http = FakeHttp(*(ok_json(envelope({"records": page, "total": 5})) for page in pages))
    records = CkanClient(http).datastore_search("res-9", limit=2)
    assert [r["_id"] for r in records] == [1, 2, 3, 4, 5]
    assert http.urls == [
        f"{BASE}/api/3/action/datastore_search?resource_id=res-9&limit=2&offset=0",
        f"{BASE}/api/3/action/datastore_search?resource_id=res-9&limit=2&offset=2",
        f"{BASE}/api/3/action/datastore_search?resource_id=res-9&limit=2&offset=4",
    ]


def test_datastore_search_empty_page_before_total_is_an_error() -> None:
    http = FakeHttp(
        ok_json(envelope({"records": [{"_id": 1}], "total": 3})),
        ok_json(envelope({"records": [], "total": 3})),
    )
    with pytest.raises(SourceFormatError, match=r"expected 3 records .* empty page at offset 1"):
        CkanClient(http).datastore_search("r", limit=1)


def test_datastore_search_without_total_stops_on_short_page() -> None:
    http = FakeHttp(ok_json(envelope({"records": [{"a": 1}, {"a": 2}]})), ok_json(envelope({"records": [{"a": 3}]})))
    assert len(CkanClient(http).datastore_search("r", limit=2)) == 3


# --------------------------------------------------------------------------- Urllib3Http


def test_urllib3_retry_configuration() -> None:
    retry = Urllib3Http(retries=5, backoff=1.0).retry
    assert retry.total == 5
    assert retry.backoff_factor == 1.0
    assert set(retry.status_forcelist or ()) == {429, 500, 502, 503, 504}
    assert retry.respect_retry_after_header is True
    assert set(retry.allowed_methods or ()) == {"GET"}
    assert retry.is_retry("GET", 503) and not retry.is_retry("POST", 503) and not retry.is_retry("GET", 404)


def test_urllib3_connection_refused_is_unavailable() -> None:
    # A closed port on the loopback interface: refused at once, never leaves the machine.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/3/action/package_show"
    with pytest.raises(SourceUnavailable, match=f"cannot reach {url} .*offline"):
        Urllib3Http(retries=0, backoff=0).get(url, timeout=2)


# --------------------------------------------------------------------------- ReplayHttp and the cassette


def test_replay_serves_recorded_entries(tmp_path: Path) -> None:
    url = f"{BASE}/x/a.csv"
    body_path = write_cassette_entry(tmp_path, url, b"data;x\n", headers={"Content-Type": "text/csv"})
    write_cassette_entry(tmp_path, PACKAGE_URL, b"{}", status=503)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index[url] == {"status": 200, "headers": {"Content-Type": "text/csv"}, "file": index[url]["file"]}
    assert (tmp_path / index[url]["file"]) == body_path
    replay = ReplayHttp(tmp_path)
    assert replay.get(url, timeout=1) == HttpResponse(200, {"Content-Type": "text/csv"}, b"data;x\n")
    assert replay.get(PACKAGE_URL, timeout=1).status == 503


def test_replay_unrecorded_url_is_unavailable(tmp_path: Path) -> None:
    write_cassette_entry(tmp_path, f"{BASE}/x/a.csv", b"x")
    with pytest.raises(SourceUnavailable, match=r"no recorded response for https://other/ \(offline mode\)"):
        ReplayHttp(tmp_path).get("https://other/", timeout=1)


def test_replay_without_index_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="no cassette index"):
        ReplayHttp(tmp_path / "missing")


def test_replay_refuses_paths_outside_the_cassette(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text(json.dumps({"u": {"status": 200, "headers": {}, "file": "../secret"}}))
    with pytest.raises(SourceUnavailable, match="outside"):
        ReplayHttp(tmp_path).get("u", timeout=1)


def test_sample_cassette_end_to_end(tmp_path: Path) -> None:
    cassette = write_bndes_cassette(tmp_path / "c", years=range(2022, 2024))
    client = CkanClient(ReplayHttp(cassette))
    package = client.package_show()
    assert package.id == PACKAGE_UUID
    assert [(r.standard, r.year) for r in package.resources] == [
        (s, y) for y in (2022, 2023) for s in ("BRGAAP", "IFRS", "PRUDENCIAL")
    ]
    prudential = package.resources[2]
    assert prudential.name == "Balanço Patrimonial Conglomerado Prudencial 2022"
    assert prudential.id == resource_id("PRUDENCIAL", 2022)
    assert prudential.url == (
        f"{BASE}/dataset/{PACKAGE_UUID}/resource/{prudential.id}/download/"
        "balanco-patrimonial-conglomerado-prudencial-2022.csv"
    )
    for resource in package.resources:
        body = client.download(resource)
        assert hashlib.md5(body).hexdigest() == resource.md5
        assert len(body) < 4096
        result = parse_balance_sheet(
            body, resource_name=resource.name, resource_id=resource.id, standard=resource.standard
        )
        assert result.quarantined == []
        assert {r.reference_date.year for r in result.rows} == {resource.year}


def test_sample_cassette_is_deterministic(tmp_path: Path) -> None:
    first = write_bndes_cassette(tmp_path / "a", years=range(2021, 2023))
    second = write_bndes_cassette(tmp_path / "b", years=range(2021, 2023))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert len(files) == 1 + 1 + 6  # index, package_show, 2 years x 3 standards
