from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finlake.samples.bndes import ACCOUNTS, sample_csv
from functions.bndes.parse import FileRejected, ParseResult, parse_balance_sheet
from functions.common.http import looks_like_html
from functions.common.ptbr import format_ptbr, normalize_column, parse_ptbr_date, parse_ptbr_decimal

HEADER = "Data;Categoria;Caixa e equivalentes de caixa;Ativo total"


def parse(text: str | bytes, **kwargs: object) -> ParseResult:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return parse_balance_sheet(
        content,
        resource_name="Balanço Patrimonial BRGAAP 2023",
        resource_id="rid-1",
        standard="BRGAAP",
        **kwargs,  # type: ignore[arg-type]
    )


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


# --------------------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Operações de crédito e repasses", "operacoes_de_credito_e_repasses"),
        ("  Ativo Total (R$ mil) ", "ativo_total_r_mil"),
        ("Data-Base", "data_base"),
        ("Patrimônio líquido", "patrimonio_liquido"),
        ("__já__", "ja"),
        ("", ""),
        ("???", ""),
    ],
)
def test_normalize_column(raw: str, expected: str) -> None:
    assert normalize_column(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234.567,89", Decimal("1234567.89")),
        ("-1.234,5", Decimal("-1234.5")),
        ("(1.234,50)", Decimal("-1234.50")),
        ("12", Decimal("12")),
        (" 3,4 ", Decimal("3.4")),
        ("+0,01", Decimal("0.01")),
        ("1234,5", Decimal("1234.5")),
        ("1.234", Decimal("1234")),
        ("-0,00", Decimal("0.00")),
    ],
)
def test_parse_ptbr_decimal(raw: str, expected: Decimal) -> None:
    assert parse_ptbr_decimal(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", " ", "abc", "1,234.56", "1234.56", "1.23,4", ",5", "1,", "(-1,0)", "()", "12 345", "1e5", "--1"],
)
def test_parse_ptbr_decimal_rejects_garbage(raw: str) -> None:
    with pytest.raises(ValueError, match="not a pt-BR number"):
        parse_ptbr_decimal(raw)


def test_format_ptbr() -> None:
    assert format_ptbr(Decimal("1234567.891")) == "1.234.567,89"
    assert format_ptbr(Decimal("-1234.5")) == "-1.234,50"
    assert format_ptbr(Decimal("0.005")) == "0,01"
    assert format_ptbr(Decimal("7")) == "7,00"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("31/03/2024", date(2024, 3, 31)),
        ("2024-03-31", date(2024, 3, 31)),
        ("31/03/2024 00:00:00", date(2024, 3, 31)),
        ("2024-06-30T00:00:00", date(2024, 6, 30)),
        (" 1/7/2023 ", date(2023, 7, 1)),
    ],
)
def test_parse_ptbr_date(raw: str, expected: date) -> None:
    assert parse_ptbr_date(raw) == expected


@pytest.mark.parametrize("raw", ["31/02/2024", "2024/03/31", "03-31-2024", "", "março 2024", "31/03/24"])
def test_parse_ptbr_date_rejects_garbage(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_ptbr_date(raw)


def test_looks_like_html() -> None:
    assert looks_like_html(b"\xef\xbb\xbf  \n<!DOCTYPE html><html>")
    assert looks_like_html(b"<HTML><body>")
    # the bytes decide: data labelled text/html is data; markup labelled text/html is a page
    assert not looks_like_html(b"data;x\n", "text/html; charset=utf-8")
    assert looks_like_html(b"<body>Manutencao</body>", "text/html; charset=utf-8")
    assert looks_like_html(b'<?xml version="1.0" encoding="pt-br"?>\n<!DOCTYPE html PUBLIC "x">\n<html>')
    assert not looks_like_html(b"data;x\n<html>", "text/csv")


# --------------------------------------------------------------------------- whole file, happy path


def test_parse_small_file_into_long_rows() -> None:
    result = parse(
        csv_text(
            "31/12/2023;Consolidado;1.000,50;800.000,00",
            "30/09/2023;Individual;2,5;(10,00)",
        )
    )
    assert result.columns == ["data", "categoria", "caixa_e_equivalentes_de_caixa", "ativo_total"]
    assert result.date_column == "data"
    assert result.text_columns == ["categoria"]
    assert result.account_columns == ["caixa_e_equivalentes_de_caixa", "ativo_total"]
    assert (result.rows_in, result.rows_valid, result.rows_empty, result.quarantined) == (2, 2, 0, [])
    # ordered by reference date, then source line, then account
    assert [(r.reference_date, r.source_line, r.account, r.value) for r in result.rows] == [
        (date(2023, 9, 30), 3, "ativo_total", Decimal("-10.00")),
        (date(2023, 9, 30), 3, "caixa_e_equivalentes_de_caixa", Decimal("2.50")),
        (date(2023, 12, 31), 2, "ativo_total", Decimal("800000.00")),
        (date(2023, 12, 31), 2, "caixa_e_equivalentes_de_caixa", Decimal("1000.50")),
    ]
    first = result.rows[0]
    assert first.account_label == "Ativo total"
    assert first.accounting_standard == "BRGAAP"
    assert first.resource_name == "Balanço Patrimonial BRGAAP 2023"
    assert first.resource_id == "rid-1"
    assert first.attributes == '{"categoria": "Individual"}'
    assert str(first.value) == "-10.00"


def test_values_are_quantized_to_cents() -> None:
    result = parse(csv_text("31/12/2023;X;1,005;2,0049"))
    assert [str(r.value) for r in result.rows] == ["2.00", "1.01"]


def test_bom_iso_dates_time_suffix_crlf_and_text_stripping() -> None:
    content = "\ufeffdata_base;categoria;Ativo total\r\n2023-12-31; Consolidado ;10\r\n31/03/2024 00:00:00;X;20\r\n"
    result = parse(content.encode("utf-8"))
    assert result.columns == ["data_base", "categoria", "ativo_total"]
    assert [(r.reference_date, r.value, r.attributes) for r in result.rows] == [
        (date(2023, 12, 31), Decimal("10.00"), '{"categoria": "Consolidado"}'),
        (date(2024, 3, 31), Decimal("20.00"), '{"categoria": "X"}'),
    ]


def test_no_text_columns_gives_empty_attributes() -> None:
    result = parse("dt_referencia;Ativo total\n31/12/2023;1\n")
    assert result.text_columns == []
    assert result.rows[0].attributes == "{}"


def test_several_text_columns_sorted_in_attributes() -> None:
    result = parse("periodo;Unidade;Categoria;Ativo total\n31/12/2023;R$ mi;Consolidado;1\n")
    assert json.loads(result.rows[0].attributes) == {"unidade": "R$ mi", "categoria": "Consolidado"}
    assert result.rows[0].attributes == '{"categoria": "Consolidado", "unidade": "R$ mi"}'


def test_blank_rows_and_empty_cells() -> None:
    result = parse(
        csv_text(
            "31/12/2023;Consolidado;;5",  # empty numeric cell: no long row, not zero
            "",
            "   ",
            ";;;",  # bare delimiters
            "31/03/2024;Consolidado;;",  # a date but no value: quarantined, "no account value"
        )
    )
    assert [(r.account, r.value) for r in result.rows] == [("ativo_total", Decimal("5.00"))]
    # blank lines and bare delimiters are not rows; the placeholder is a row, quarantined with its reason
    assert (result.rows_in, result.rows_valid, result.rows_empty, len(result.quarantined)) == (2, 1, 3, 1)
    assert result.quarantined[0].reason == "line 6: no account value (only the date and text columns)"


def test_trailing_delimiter_is_tolerated() -> None:
    result = parse(csv_text("31/12/2023;A;1;2;"))
    assert result.rows_valid == 1
    assert len(result.rows) == 2


def test_new_and_missing_columns() -> None:
    result = parse(
        csv_text("31/12/2023;A;1;2"),
        expected_columns=["data", "categoria", "ativo_total", "Patrimônio líquido"],
    )
    assert result.new_columns == ["caixa_e_equivalentes_de_caixa"]
    assert result.missing_columns == ["patrimonio_liquido"]


def test_without_expected_columns_nothing_is_new_or_missing() -> None:
    result = parse(csv_text("31/12/2023;A;1;2"))
    assert (result.new_columns, result.missing_columns) == ([], [])


def test_empty_header_cell_becomes_col_n() -> None:
    result = parse("data;;Ativo total\n31/12/2023;x;1\n")
    assert result.columns == ["data", "col_2", "ativo_total"]


# --------------------------------------------------------------------------- quarantine


def _good_rows(count: int) -> list[str]:
    return [f"31/12/2023;Linha {i};{i},00;{i * 10},00" for i in range(count)]


def test_bad_number_is_quarantined_with_reason() -> None:
    rows = _good_rows(10)
    rows.insert(5, "31/12/2023;X;1,00;abc")  # line 7 (header = line 1)
    result = parse(csv_text(*rows))
    assert [(q.source_line, q.reason, q.raw_line) for q in result.quarantined] == [
        (7, "line 7: column 'ativo_total' value 'abc' is not a pt-BR number", "31/12/2023;X;1,00;abc")
    ]
    assert (result.rows_in, result.rows_valid) == (11, 10)
    assert 7 not in {r.source_line for r in result.rows}  # the whole row is held back


def test_bad_date_is_quarantined() -> None:
    rows = [*_good_rows(10), "31/02/2023;X;1;2"]
    result = parse(csv_text(*rows))
    assert [q.reason for q in result.quarantined] == [
        "line 12: column 'data' value '31/02/2023' is not a date (expected dd/mm/yyyy or yyyy-mm-dd)"
    ]


def test_missing_date_is_quarantined() -> None:
    result = parse(csv_text(*_good_rows(10), ";X;1;2"))
    assert [q.reason for q in result.quarantined] == ["line 12: column 'data' is empty (expected a date)"]


def test_wrong_field_count_is_quarantined() -> None:
    result = parse(csv_text(*_good_rows(10), "31/12/2023;X;1"))
    assert [(q.source_line, q.reason) for q in result.quarantined] == [(12, "line 12: expected 4 fields, found 3")]


def test_several_problems_in_one_row_are_all_named() -> None:
    result = parse(csv_text(*_good_rows(10), "xx;X;1..0;abc"))
    assert result.quarantined[0].reason == (
        "line 12: column 'data' value 'xx' is not a date (expected dd/mm/yyyy or yyyy-mm-dd); "
        "column 'caixa_e_equivalentes_de_caixa' value '1..0' is not a pt-BR number; "
        "column 'ativo_total' value 'abc' is not a pt-BR number"
    )


def test_exactly_ten_percent_is_accepted_more_is_rejected() -> None:
    ok = parse(csv_text(*_good_rows(9), "31/12/2023;X;1;abc"))
    assert len(ok.quarantined) == 1
    with pytest.raises(FileRejected, match=r"2 of 10 data rows quarantined \(more than 10%\); first: line"):
        parse(csv_text(*_good_rows(8), "31/12/2023;X;1;abc", "bad;X;1;2"))


# --------------------------------------------------------------------------- rejected files


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_rejected(content: bytes) -> None:
    with pytest.raises(FileRejected, match="file is empty"):
        parse(content)


def test_html_is_rejected() -> None:
    with pytest.raises(FileRejected, match=r"got an HTML page: '<!DOCTYPE html> <html><head><title>Manuten"):
        parse(b"\n  <!DOCTYPE html>\n<html><head><title>Manuten\xc3\xa7\xc3\xa3o</title></head></html>")


def test_tab_delimiter_is_rejected() -> None:
    with pytest.raises(FileRejected, match="expected a ';'- or ','-delimited CSV, found '\t'"):
        parse("data\tcategoria\tativo_total\n31/12/2023\tA\t1\n")


def test_comma_file_with_ptbr_numbers_is_rejected_naming_the_format() -> None:
    with pytest.raises(FileRejected, match=r"no column besides the date holds dot-decimal numbers \(a ','-delimited"):
        parse('data,categoria,ativo_total\n31/12/2023,A,"1.234,56"\n31/12/2022,A,"2,00"\n')


def test_binary_content_is_rejected_with_offset() -> None:
    content = b"data;Ativo total\n31/12/2023;" + bytes(range(0x80, 0x100)) * 3 + b"\n"
    with pytest.raises(FileRejected, match="not text in any of UTF-8, UTF-16, windows-1252 or ISO-8859-1"):
        parse(content)


def test_no_date_column_is_rejected() -> None:
    with pytest.raises(FileRejected, match="no date column"):
        parse("categoria;ativo_total\nA;1\n")


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(FileRejected, match="duplicate column names after normalisation: 'ativo_total'"):
        parse("data;Ativo total;ATIVO-TOTAL\n31/12/2023;1;2\n")


def test_no_numeric_column_is_rejected() -> None:
    with pytest.raises(FileRejected, match="no numeric account columns"):
        parse("data;categoria\n31/12/2023;A\n")


# --------------------------------------------------------------------------- the sample generator


@pytest.mark.parametrize("standard", ["BRGAAP", "IFRS", "PRUDENCIAL"])
def test_sample_csv_parses_cleanly_and_balances(standard: str) -> None:
    result = parse_balance_sheet(sample_csv(standard, 2023), resource_name="s", resource_id="r", standard=standard)
    assert result.quarantined == [] and result.rows_empty == 0
    assert result.text_columns == ["categoria"]
    assets, _ = ACCOUNTS[standard]
    asset_columns = {a.column for a in assets}
    by_row: dict[int, dict[str, Decimal]] = {}
    for row in result.rows:
        by_row.setdefault(row.source_line, {})[row.account] = row.value
    assert {r.reference_date.strftime("%d/%m") for r in result.rows} == {"31/03", "30/06", "30/09", "31/12"}
    for values in by_row.values():
        assert values["ativo_total"] == sum(v for k, v in values.items() if k in asset_columns)
        assert values["passivo_total"] == values["ativo_total"]
        assert Decimal(600_000) < values["ativo_total"] < Decimal(950_000)  # R$ millions


def test_sample_standards_differ_in_columns() -> None:
    columns = {
        s: parse_balance_sheet(sample_csv(s), resource_name="s", resource_id="r", standard=s).columns
        for s in ("BRGAAP", "IFRS", "PRUDENCIAL")
    }
    assert "titulos_e_valores_mobiliarios" in columns["BRGAAP"]
    assert "ativos_financeiros_ao_valor_justo" in columns["IFRS"]
    assert "instrumentos_financeiros_derivativos" in columns["PRUDENCIAL"]
    assert "operacoes_de_credito_e_repasses" in columns["BRGAAP"]
    assert sample_csv("IFRS", 2023) == sample_csv("IFRS", 2023)


# --------------------------------------------------------------------------- properties

cents = st.decimals(min_value=-(10**13), max_value=10**13, places=2, allow_nan=False, allow_infinity=False)


@given(cents)
def test_format_then_parse_roundtrips(value: Decimal) -> None:
    assert parse_ptbr_decimal(format_ptbr(value)) == value


cell = st.one_of(
    cents.map(format_ptbr),
    st.sampled_from(["", " ", "abc", "1,2,3", "(5,00)", "-0,5", "12"]),
    st.text(alphabet='0123456789,.-;() "x', max_size=8),
)
date_cell = st.one_of(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")),
    st.sampled_from(["", "31/02/2023", "2023-12-31", "xx"]),
)
row = st.tuples(date_cell, st.sampled_from(["Consolidado", "", "Individual"]), cell, cell).map(lambda t: ";".join(t))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(row, st.just(""), st.just("31/12/2023;A;1")), max_size=30))
def test_rows_are_accounted_for_and_only_file_rejected_escapes(rows: list[str]) -> None:
    content = csv_text(*rows).encode("utf-8")
    try:
        result = parse(content)
    except FileRejected:
        return
    assert result.rows_in + result.rows_empty == len(rows)
    assert result.rows_in == result.rows_valid + len(result.quarantined) + result.rows_duplicates
    assert result.rows_valid == len({r.source_line for r in result.rows})
    keys = [(r.reference_date, r.source_line, r.account) for r in result.rows]
    assert keys == sorted(keys)
    assert all(r.value == r.value.quantize(Decimal("0.01")) for r in result.rows)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_file_rejected(content: bytes) -> None:
    try:
        result = parse(b"data;ativo_total\n" + content)
    except FileRejected:
        return
    assert result.rows_in == result.rows_valid + len(result.quarantined) + result.rows_duplicates
