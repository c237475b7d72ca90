"""The Google Sheets sink, replayed from cassettes (tests/data/sheets/): no request leaves the process."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.bank.sheets import SheetsError, cell, publish_summary
from tests.sheets_replay import ReplayAdapter, replay_session

SPREADSHEET_ID = "1FnLkBankSummaryDemo-x7Qw2RtYp9ZkVbN3mJhG5sA"
EMAIL = "finlake-sheets@finlake-demo.iam.gserviceaccount.com"
TAB = "monthly summary"
COLUMNS = ["month", "account", "transactions", "money_in", "money_out", "net", "last_date"]
ROWS: list[dict[str, Any]] = [
    {
        "month": date(2024, 1, 1),
        "account": "card",
        "transactions": 42,
        "money_in": Decimal("150.00"),
        "money_out": Decimal("-3210.45"),
        "net": Decimal("-3060.45"),
        "last_date": date(2024, 1, 31),
    },
    {
        "month": date(2024, 1, 1),
        "account": "nuconta",
        "transactions": 17,
        "money_in": Decimal("8500.00"),
        "money_out": Decimal("-1234.50"),
        "net": Decimal("7265.50"),
        "last_date": date(2024, 1, 30),
    },
    {
        "month": date(2024, 2, 1),
        "account": "card",
        "transactions": 0,
        "money_in": Decimal("0.00"),
        "money_out": Decimal("0.00"),
        "net": Decimal("0.00"),
        "last_date": None,
    },
]


@pytest.fixture(scope="module")
def service_account() -> dict[str, Any]:
    """A service-account JSON with a key made now, so JWT signing works and no key is committed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "finlake-demo",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + EMAIL.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a test tried to reach the network: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def replay() -> Iterator[Any]:
    adapters: list[ReplayAdapter] = []

    def start(cassette: str) -> tuple[Any, ReplayAdapter]:
        session, adapter = replay_session(cassette)
        adapters.append(adapter)
        return session, adapter

    yield start
    for adapter in adapters:
        adapter.check()


def publish(service_account: dict[str, Any], session: Any) -> dict[str, Any]:
    return publish_summary(
        ROWS,
        COLUMNS,
        spreadsheet_id=SPREADSHEET_ID,
        worksheet=TAB,
        service_account_info=service_account,
        session=session,
    )


EXPECTED_VALUES = [
    COLUMNS,
    ["2024-01-01", "card", 42, "150.00", "-3210.45", "-3060.45", "2024-01-31"],
    ["2024-01-01", "nuconta", 17, "8500.00", "-1234.50", "7265.50", "2024-01-30"],
    ["2024-02-01", "card", 0, "0.00", "0.00", "0.00", ""],
]


def test_existing_worksheet_is_cleared_then_rewritten(service_account, replay) -> None:
    session, adapter = replay("worksheet_exists.json")
    threads = threading.active_count()

    result = publish(service_account, session)

    assert result == {
        "spreadsheet_id": SPREADSHEET_ID,
        "worksheet": TAB,
        "rows": 3,
        "range": "'monthly summary'!A1:G4",
    }
    assert [(s.method, s.url.split("?")[0].rsplit("/", 1)[-1]) for s in adapter.seen] == [
        ("POST", "token"),
        ("GET", "allowedLocations"),
        ("GET", SPREADSHEET_ID),
        ("GET", SPREADSHEET_ID),
        ("POST", "%27monthly%20summary%27:clear"),
        ("PUT", "%27monthly%20summary%27%21A1"),
    ]
    update = adapter.seen[-1]
    assert update.url.endswith("?valueInputOption=RAW")
    assert update.json()["values"] == EXPECTED_VALUES
    # the token from the (replayed) token endpoint is what the Sheets calls carry
    assert threading.active_count() == threads  # no background lookup on a copy of the transport
    assert all(
        s.headers["Authorization"] == "Bearer ya29.c.replayed-test-token-not-a-real-one" for s in adapter.seen[2:]
    )


def test_missing_worksheet_is_created_then_written(service_account, replay) -> None:
    session, adapter = replay("worksheet_missing.json")

    result = publish(service_account, session)

    assert result["rows"] == 3
    assert result["range"] == "'monthly summary'!A1:G4"
    add_sheet = adapter.seen[4].json()["requests"][0]["addSheet"]["properties"]
    assert add_sheet == {"title": TAB, "sheetType": "GRID", "gridProperties": {"rowCount": 4, "columnCount": 7}}
    assert not any(s.url.endswith(":clear") for s in adapter.seen)
    assert adapter.seen[-1].json()["values"] == EXPECTED_VALUES


@pytest.mark.parametrize(
    ("cassette", "message"),
    [
        (
            "spreadsheet_forbidden.json",
            f"the service account {EMAIL} cannot open spreadsheet {SPREADSHEET_ID}: share the sheet with it (Editor)",
        ),
        ("spreadsheet_not_found.json", f"spreadsheet {SPREADSHEET_ID} not found"),
        (
            "token_rejected.json",
            "Google rejected the service-account credentials: invalid_grant: Invalid JWT Signature.",
        ),
    ],
)
def test_failures_give_a_clear_message_without_secrets(service_account, replay, cassette, message) -> None:
    session, _ = replay(cassette)

    with pytest.raises(SheetsError) as raised:
        publish(service_account, session)

    text = str(raised.value)
    assert text.startswith(message)
    key_body = service_account["private_key"].splitlines()[1]
    assert key_body not in text and "PRIVATE KEY" not in text
    assert "ya29." not in text
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_unusable_service_account_json(service_account) -> None:
    broken = {k: v for k, v in service_account.items() if k != "token_uri"}

    with pytest.raises(SheetsError, match=f"service-account JSON of {EMAIL} is not usable"):
        publish(broken, None)


def test_values_keep_money_exact() -> None:
    assert cell(Decimal("1234.50")) == "1234.50"
    assert cell(Decimal("12345678901234.56")) == "12345678901234.56"
    assert cell(Decimal("1E+2")) == "100"
    assert cell(date(2024, 3, 1)) == "2024-03-01"
    assert cell(None) == ""
    assert cell(7) == 7
    assert cell("=HYPERLINK(1)") == "=HYPERLINK(1)"  # RAW: stored as text, never run as a formula
