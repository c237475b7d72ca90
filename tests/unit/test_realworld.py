"""Every file of ../shared/fixtures/realworld/ through its parser (or Fetch's check), with the right outcome of
its README as values; the workflow outcomes are in tests/workflows/test_realworld_workflows.py."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from functions.bank.exports import parse_nuconta_csv, parse_ofx
from functions.bndes.ckan import CkanClient
from functions.bndes.parse import FileRejected, parse_balance_sheet
from functions.cards.pipeline import place
from functions.common.http import (
    HttpResponse,
    IncompleteDownload,
    NotTheFile,
    body_problem,
    get_file,
    looks_like_html,
    zip_problem,
)
from functions.common.ptbr import parse_ptbr_decimal
from functions.common.text import decode
from functions.stocks.bcb import SgsClient, SgsError, parse_sgs
from functions.stocks.cotahist import CotahistError, format_trailer, parse_cotahist, unzip_cotahist
from functions.stocks.cotahist import FileRejected as CotahistRejected
from glue.cards_curate import INVOICE_HEADER, MINIMUM, PAYMENT_HEADER, header_layout
from tests.http_fakes import FakeHttp

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "realworld"
pytestmark = pytest.mark.skipif(not REALWORLD.exists(), reason="../shared/fixtures is not beside the checkout")

BNDES_CP1252 = "balanco-patrimonial-brgaap-2024.csv"
BNDES_OTHER = "balanco-patrimonial-brgaap-2024_outros-formatos.csv"


def read(*parts: str) -> bytes:
    return REALWORLD.joinpath(*parts).read_bytes()


# --------------------------------------------------------------------------- kind 1: encodings


def bndes(name: str, declared: str | None = None):
    return parse_balance_sheet(
        read("bndes", name), resource_name=name, resource_id="r", standard="BRGAAP", declared_encoding=declared
    )


def values(result) -> dict[tuple[str, str, str], Decimal]:
    return {(str(r.reference_date), json.loads(r.attributes)["categoria"], r.account): r.value for r in result.rows}


@pytest.mark.parametrize("declared", [None, "Windows-1252", "UTF-8"])
def test_bndes_windows_1252_csv_is_decoded_and_parsed(declared: str | None) -> None:
    """Decoded as cp1252 whether declared (CKAN "encoding"), undeclared (detected) or wrongly declared UTF-8."""
    result = bndes(BNDES_CP1252, declared)
    assert result.encoding == "windows-1252"
    assert (result.rows_in, result.rows_valid, result.rows_duplicates, result.quarantined) == (3, 3, 0, [])
    assert len(result.rows) == 30  # 3 dates x 10 accounts
    got = values(result)
    assert got[("2024-03-31", "Individual", "aplicacoes_interfinanceiras_de_liquidez")] == Decimal("61345.00")
    assert got[("2024-03-31", "Individual", "ativo_total")] == Decimal("650175.11")
    assert got[("2024-03-31", "Individual", "provisao_para_risco_de_credito")] == Decimal("-15330.00")
    labels = {r.account: r.account_label for r in result.rows}
    assert labels["provisao_para_risco_de_credito"] == "Provisão para risco de crédito"  # no mojibake
    if declared == "UTF-8":
        assert "declared UTF-8, but the bytes are not valid UTF-8" in result.encoding_note


def test_ckan_resource_declares_its_encoding() -> None:
    body = read("bndes", "package_show_balanco-patrimonial_encoding_windows1252.json")
    package = CkanClient(
        FakeHttp(HttpResponse(200, {"Content-Type": "application/json"}, body), repeat_last=True)
    ).package_show()
    [resource] = package.resources
    assert (resource.encoding, resource.standard, resource.year, resource.md5) == (
        "Windows-1252",
        "BRGAAP",
        2024,
        "4917cb428efacd4ff0083496a4dfb6e3",
    )
    assert decode(read("bndes", BNDES_CP1252), declared=resource.encoding).decided_by == "declared"


def test_bndes_outros_formatos_gives_the_same_30_values_with_its_dot_decimal() -> None:
    other, default = bndes(BNDES_OTHER), bndes(BNDES_CP1252)
    assert (other.delimiter, other.number_format, other.encoding) == (",", "dot-decimal", "UTF-8")
    assert "id" not in other.account_columns and "id" not in other.columns  # the DataStore's _id is no account
    assert values(other) == values(default)
    assert values(other)[("2024-06-30", "Individual", "operacoes_de_credito_e_repasses")] == Decimal("462345.67")
    with pytest.raises(ValueError):  # never read as pt-BR thousands
        parse_ptbr_decimal("462345.67")


def test_a_utf8_body_under_a_windows_1252_label_is_utf8() -> None:
    decoded = decode(read("bndes", BNDES_OTHER), declared="Windows-1252")
    assert decoded.encoding == "utf_8" and "Aplicações" in decoded.text
    assert "byte-order mark" in decoded.note


# --------------------------------------------------------------------------- kind 2: not the file


@pytest.mark.parametrize(
    "meta", ["sgs_12_requisicao_invalida_200.meta.json", "sgs_12_requisicao_invalida_200_texthtml.meta.json"]
)
def test_sgs_xhtml_error_page_is_recognised_retried_then_unavailable(meta: str) -> None:
    recorded = json.loads(read("bcb", meta))
    body = read("bcb", recorded["file"])
    answer = HttpResponse(recorded["status"], recorded["headers"], body)
    content_type = recorded["headers"]["Content-Type"]
    assert looks_like_html(body, None)  # behind the XML prolog, whatever the content type says
    assert "error page (HTML: 'Requisição inválida!')" in (body_problem(body, content_type, "json") or "")
    http = FakeHttp(answer, repeat_last=True)
    with pytest.raises(NotTheFile) as raised:
        SgsClient(http).fetch("cdi_daily", date(2026, 1, 2), date(2026, 1, 5))
    assert len(http.urls) == 3 and http.urls[0] == recorded["url"]
    assert "Requisição inválida!" in str(raised.value) and recorded["url"] in str(raised.value)
    with pytest.raises(SgsError, match="got HTML"):  # never "invalid JSON"
        parse_sgs(body, "cdi_daily", content_type=content_type)
    good = HttpResponse(200, recorded["headers"], b'[{"data":"02/01/2026","valor":"0.055131"}]')
    _, points = SgsClient(FakeHttp(answer, good, repeat_last=True)).fetch(
        "cdi_daily", date(2026, 1, 2), date(2026, 1, 5)
    )
    assert [(p.date, p.value) for p in points] == [(date(2026, 1, 2), Decimal("0.055131"))]


def test_truncated_streaming_zip_is_an_incomplete_download() -> None:
    truncated = read("b3", "COTAHIST_A2026_truncated.ZIP")
    assert (zip_problem(truncated) or "").startswith("incomplete download: a ZIP without its central directory")
    url = "https://bvmf.bmfbovespa.com.br/InstDados/SerHist/COTAHIST_A2026.ZIP"
    http = FakeHttp(HttpResponse(200, {"Content-Type": "application/zip"}, truncated), repeat_last=True)
    with pytest.raises(IncompleteDownload, match=r"COTAHIST_A2026\.ZIP answered HTTP 200 with incomplete download"):
        get_file(http, url, timeout=1, expect="zip")
    assert len(http.urls) == 3
    complete = HttpResponse(200, {}, read("b3", "COTAHIST_A2026.ZIP"))
    assert (
        get_file(FakeHttp(http.queue[0], complete, repeat_last=True), url, timeout=1, expect="zip").body
        == complete.body
    )
    with pytest.raises(CotahistError):  # what Validate would have said: Fetch never lets it get that far
        unzip_cotahist(truncated)


# --------------------------------------------------------------------------- kind 3: real format != documented


def test_yearly_zip_whose_trailer_counts_only_records_is_accepted() -> None:
    name, content = unzip_cotahist(read("b3", "COTAHIST_A2026.ZIP"))
    parsed = parse_cotahist(content, file_name=name)
    assert (name, parsed.records_in, parsed.trailer_total, parsed.trailer_convention) == (
        "COTAHIST_A2026.TXT",
        16,
        16,
        "records",
    )
    rows = parsed.table.select(["ticker", "dt_ref", "close"]).to_pylist()
    assert sorted({r["ticker"] for r in rows}) == ["ITUB4", "PETR4", "VALE3", "WEGE3"]
    assert sorted({str(r["dt_ref"]) for r in rows}) == ["2026-09-15", "2026-09-16", "2026-09-17", "2026-09-18"]
    assert {r["close"] for r in rows if r["ticker"] == "PETR4"} == {Decimal("37.22")}
    lines = content.split(b"\r\n")
    lines[-2] = format_trailer(17, generated=date(2026, 9, 18), year=2026)
    with pytest.raises(CotahistRejected, match="TOTREG mismatch: trailer says 17, found 18 lines"):
        parse_cotahist(b"\r\n".join(lines), file_name=name)


@pytest.mark.parametrize(
    ("name", "placed"),
    [
        ("tb_faturas_20241201_20241202000000.csv", ("invoices", "2024-12", "20241202000000")),
        ("tb_pagamentos_20241201_20241202000000.csv", ("payments", "2024-12", "20241202000000")),
        ("tb_fatura_20240901_20240902000000.csv", ("invoices", "2024-09", "20240902000000")),
        ("tb_faturas_202409.csv", ("invoices", "2024-09", "")),
        ("faturas setembro.csv", None),
        ("tb_faturas_2024.csv", None),
        ("tb_faturas_20241301_20241302000000.csv", None),
    ],
)
def test_card_file_naming_conventions(name: str, placed: tuple[str, str, str] | None) -> None:
    assert place(name) == placed


def test_later_card_deliveries_headers_are_mapped_by_name() -> None:
    invoices = read("cards", "tb_faturas_20241201_20241202000000.csv").decode().splitlines()[0]
    layout = header_layout("f", invoices, INVOICE_HEADER, MINIMUM)
    # id_fatura,id_cliente,data_emissao,data_vencimento,valor_fatura,valor_pagamento_minimo
    assert (layout.fields, layout.positions) == (6, (1, 0, 2, 3, 4, 5))
    assert layout.renamed == ("data_emissao->dt_emissao_fatura", "data_vencimento->dt_vencimento_fatura")
    payments = read("cards", "tb_pagamentos_20241201_20241202000000.csv").decode().splitlines()[0]
    layout = header_layout("f", payments, PAYMENT_HEADER)
    assert (layout.positions, layout.renamed) == ((0, 1, 2, 3, 4), ("data_pagamento->dt_pagamento",))


# --------------------------------------------------------------------------- kind 4: discontinuities


def test_the_real_plan_file_keeps_each_rows_currency() -> None:
    parsed = parse_cotahist(
        read("b3", "COTAHIST_A1994_excerpt_real_transition.TXT"), file_name="COTAHIST_A1994_excerpt.TXT"
    )
    rows = parsed.table.select(["ticker", "dt_ref", "currency", "close"]).to_pylist()
    assert [(r["ticker"], str(r["dt_ref"]), r["currency"]) for r in rows] == [
        ("PETR4", "1994-06-29", "CR$"),
        ("VALE5", "1994-06-29", "CR$"),
        ("PETR4", "1994-06-30", "CR$"),
        ("VALE5", "1994-06-30", "CR$"),
        ("PETR4", "1994-07-04", "R$"),
        ("VALE5", "1994-07-04", "R$"),
    ]
    assert (parsed.trailer_convention, parsed.quarantined) == ("lines", [])


# --------------------------------------------------------------------------- the same kinds in other sources


def test_ofx_header_contradicted_by_the_bytes_is_read_by_the_bytes() -> None:
    """CHARSET:1252 declared, the body UTF-8: ofxtools would decode it as cp1252 (mojibake) without the fix."""
    header = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
        "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    )
    body = (
        "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        "<DTSERVER>20240930</DTSERVER><LANGUAGE>POR</LANGUAGE></SONRS></SIGNONMSGSRSV1>"
        "<BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
        "<STMTRS><CURDEF>BRL</CURDEF><BANKACCTFROM><BANKID>0260</BANKID><ACCTID>1</ACCTID>"
        "<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST><DTSTART>20240901</DTSTART>"
        "<DTEND>20240930</DTEND><STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240902</DTPOSTED>"
        "<TRNAMT>-22.26</TRNAMT><FITID>f1</FITID><MEMO>Compra no débito - Açaí da Praça</MEMO></STMTTRN>"
        "</BANKTRANLIST><LEDGERBAL><BALAMT>1.00</BALAMT><DTASOF>20240930</DTASOF></LEDGERBAL></STMTRS>"
        "</STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    for encoding in ("utf-8", "cp1252"):
        parsed = parse_ofx((header + body).encode(encoding), "a.ofx")
        assert parsed.rows[0].description == "Compra no débito - Açaí da Praça", encoding


def test_nuconta_csv_in_windows_1252_and_a_utf8_line_in_it() -> None:
    lines = ["Data,Valor,Identificador,Descrição"]
    lines += [f"{d:02d}/09/2024,-10.00,id-{d},Compra no débito - Padaria São João" for d in range(1, 21)]
    data = ("\n".join(lines) + "\n").encode("cp1252") + "21/09/2024,-5.00,id-21,Açaí\n".encode()
    parsed = parse_nuconta_csv(data, "NU_extrato.csv")
    assert parsed.facts["encoding"] == "cp1252"
    assert parsed.rows[0].description == "Compra no débito - Padaria São João"
    assert [(b.line, b.reason) for b in parsed.quarantined] == [
        (22, "line is UTF-8 inside a windows-1252 file (mixed encodings)")
    ]
    assert parsed.rows_in == len(parsed.rows) + len(parsed.quarantined) == 21


def test_base64_wrapped_zip_is_unwrapped_when_it_is_the_file() -> None:
    import base64

    complete = read("b3", "COTAHIST_A2026.ZIP")
    http = FakeHttp(HttpResponse(200, {"Content-Type": "text/plain"}, base64.b64encode(complete)), repeat_last=True)
    response = get_file(http, "https://b3/x.ZIP", timeout=1, expect="zip")
    assert response.body == complete and response.header("x-finlake-unwrapped") == "base64"
    assert zipfile.ZipFile(io.BytesIO(response.body)).namelist() == ["COTAHIST_A2026.TXT"]
    junk = FakeHttp(HttpResponse(200, {}, base64.b64encode(b"not a zip at all")), repeat_last=True)
    with pytest.raises(NotTheFile, match="not a ZIP archive"):
        get_file(junk, "https://b3/x.ZIP", timeout=1, expect="zip")


def test_a_file_that_is_not_text_is_rejected_with_the_reason() -> None:
    with pytest.raises(FileRejected, match="not text in any of UTF-8"):
        parse_balance_sheet(
            b"data;x\n" + bytes(range(0x80, 0x100)) * 4, resource_name="n", resource_id="r", standard="BRGAAP"
        )


def test_a_utf16_export_with_its_bom_is_read_by_the_bom() -> None:
    from functions.bank.exports import parse_card_csv

    text = "date,title,amount\n2024-09-02,Padaria São João,12.50\n"
    parsed = parse_card_csv(b"\xff\xfe" + text.encode("utf-16-le"), "Nubank_2024-10-01.csv")
    assert [(r.description, r.amount) for r in parsed.rows] == [("Padaria São João", Decimal("-12.50"))]
    assert parsed.facts["encoding"] == "utf_16"
