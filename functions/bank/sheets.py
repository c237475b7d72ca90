"""The optional Google Sheets sink: the monthly summary table, pushed to one tab of a sheet.

A service account (its JSON key comes from Secrets Manager) writes with gspread. Every HTTP call
- the OAuth2 token request, the Sheets API calls and google-auth's own follow-up lookup - goes
through one `requests.Session`, so tests replay them all from cassettes (tests/data/sheets/).

Values are written with ``valueInputOption=RAW``: money (``Decimal``) goes as its exact text
("1234.50"), never as a binary float, and nothing is re-parsed by the sheet's locale. With
USER_ENTERED, "1234.50" would be parsed with the spreadsheet's locale (in pt_BR the decimal
separator is the comma) and a description starting with "=" would become a formula. The price:
money cells are text in the sheet (exact, but a SUM needs a conversion first). Integers stay numbers;
dates go as ISO text; None as an empty cell.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import gspread
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2.service_account import Credentials
from gspread.exceptions import APIError

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
TIMEOUT_SECONDS = 60.0


class SheetsError(Exception):
    """The summary could not be published; the message says why (never a key or a token)."""


def cell(value: Any) -> str | int | float:
    """One value as it goes into the sheet (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, str | int | float):
        return value
    return str(value)


def publish_summary(
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    spreadsheet_id: str,
    worksheet: str,
    service_account_info: dict[str, Any],
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """Write `columns` as a header and then `rows` (in the given order) to the tab `worksheet`.

    The tab is created if missing, else cleared and rewritten. Returns the spreadsheet id, the
    tab, the number of data rows and the range the API reports as updated.
    """
    email = str(service_account_info.get("client_email", "<no client_email>"))
    values = [list(columns)] + [[cell(row.get(column)) for column in columns] for row in rows]
    try:
        credentials = Credentials.from_service_account_info(service_account_info, scopes=SCOPES)
    except (ValueError, KeyError) as exc:
        raise SheetsError(f"the service-account JSON of {email} is not usable: {exc}") from None
    # google-auth (>= 2.5x) looks up the account's "regional access boundary" after a token
    # refresh, by default in a background thread on a deep copy of the transport. Blocking mode
    # (private, but kept stable for gcloud; 3 s timeout, failures ignored) keeps that one call on
    # `session`, in order, so it is replayed like the rest.
    credentials._set_blocking_regional_access_boundary_lookup()

    transport = session if session is not None else requests.Session()
    authed = AuthorizedSession(credentials, auth_request=Request(transport))
    for prefix, adapter in transport.adapters.items():  # Sheets calls use the same transport
        authed.mount(prefix, adapter)
    client = gspread.Client(auth=credentials, session=authed)
    client.set_timeout(TIMEOUT_SECONDS)
    try:
        spreadsheet = client.open_by_key(spreadsheet_id)
        try:
            tab = spreadsheet.worksheet(worksheet)
            tab.clear()
        except gspread.WorksheetNotFound:
            tab = spreadsheet.add_worksheet(worksheet, rows=len(values), cols=max(len(columns), 1))
        response = tab.update(values, "A1", raw=True)
    except RefreshError as exc:
        raise SheetsError(f"Google rejected the service-account credentials: {exc.args[0]}") from None
    except (gspread.SpreadsheetNotFound, PermissionError, APIError) as exc:
        raise SheetsError(_explain(exc, email, spreadsheet_id)) from None
    finally:
        if session is None:
            transport.close()
    return {
        "spreadsheet_id": spreadsheet_id,
        "worksheet": worksheet,
        "rows": len(rows),
        "range": response.get("updatedRange", ""),
    }


def _explain(exc: Exception, email: str, spreadsheet_id: str) -> str:
    # open_by_key turns a 403 into a bare PermissionError and a 404 into SpreadsheetNotFound,
    # both raised from the APIError that holds Google's status and message.
    api_error = exc if isinstance(exc, APIError) else exc.__cause__
    code, google_says = (
        (api_error.code, api_error.error.get("message", "")) if isinstance(api_error, APIError) else (None, "")
    )
    if isinstance(exc, PermissionError) or code == 403:
        return (
            f"the service account {email} cannot open spreadsheet {spreadsheet_id}: share the sheet with it"
            f" (Editor). Google said: {google_says}"
        )
    if isinstance(exc, gspread.SpreadsheetNotFound) or code == 404:
        return f"spreadsheet {spreadsheet_id} not found"
    return f"Google Sheets API error {code} on spreadsheet {spreadsheet_id}: {google_says}"
