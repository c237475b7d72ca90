"""The Nubank API through pynubank: one JSON snapshot per fetch, parsed like any other source.

`take_snapshot` logs in with the certificate (``authenticate_with_cert``) and collects what the
domain uses: the card feed, the bills and their details (with the installment ``charges``), the
NuConta feed (paginated), the NuConta balance and the card's credit limit. The snapshot is stored
in the raw zone as received; `parse_snapshot` turns it into `Txn` rows.

Units, as pynubank returns them: card amounts (feed events, bill line items, the credit limit) are
integer cents; NuConta amounts are reais, and the paginated feed only has them as display text
("R$ 1.300,00"), which pynubank turns into a float: we parse the text again, exactly.

Nubank has answered 403 to pynubank's logins since October 2024. A rejected login is a
`NubankLoginRejected` (the state machine does not retry it), not a retry storm. Offline, pynubank's
own `MockHttpClient` serves its bundled responses.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from functions.bank.model import Parsed, Txn, cents, infer_type, parse_amount
from functions.common.http import SourceFormatError, SourceUnavailable

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
MAX_FEED_PAGES = 200
EXPORT_HINT = (
    "Nubank has refused pynubank logins since October 2024: export the statements from the app "
    "(card CSV, NuConta CSV or OFX) and drop them in the raw bucket under inbox/bank/"
)


class NubankLoginRejected(Exception):
    """Nubank refused the credentials or the client (401/403): retrying cannot help."""


class CredentialsError(ValueError):
    """The secret does not hold usable Nubank credentials (names the fields, never the values)."""


@dataclass(frozen=True)
class Credentials:
    """Nubank login credentials from the bank secret; never in ``repr`` (CPF, password, .p12 certificate)."""

    cpf: str = field(repr=False)
    password: str = field(repr=False)
    certificate: bytes = field(repr=False)  # the .p12 certificate pynubank generated

    @classmethod
    def from_secret(cls, secret: dict[str, Any]) -> Credentials:
        """From the secret's JSON: ``{"cpf", "password", "certificate_p12_base64"}``."""
        missing = [k for k in ("cpf", "password", "certificate_p12_base64") if not secret.get(k)]
        if missing:
            raise CredentialsError(f"the Nubank secret lacks {', '.join(missing)}")
        cpf = re.sub(r"\D", "", str(secret["cpf"]))
        if len(cpf) != 11:
            raise CredentialsError("the Nubank secret's cpf does not have 11 digits")
        try:
            certificate = base64.b64decode(str(secret["certificate_p12_base64"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CredentialsError("the Nubank secret's certificate_p12_base64 is not base64") from exc
        return cls(cpf=cpf, password=str(secret["password"]), certificate=certificate)


def take_snapshot(client: Any, credentials: Credentials) -> dict[str, Any]:
    """Log in and collect the domain's data.

    ``client`` is a pynubank ``HttpClient`` (or its ``MockHttpClient``).
    """
    import requests
    from pynubank import Nubank
    from pynubank.exception import NuRequestException

    nu = Nubank(client)
    try:
        nu.authenticate_with_cert(credentials.cpf, credentials.password, cert_data=credentials.certificate)
    except NuRequestException as exc:
        if exc.status_code in (401, 403):
            raise NubankLoginRejected(
                f"Nubank rejected the login: HTTP {exc.status_code} at {_host(exc.url)}. {EXPORT_HINT}"
            ) from None
        raise SourceUnavailable(f"Nubank login failed: HTTP {exc.status_code} at {_host(exc.url)}") from None
    except requests.exceptions.InvalidJSONError as exc:  # before RequestException, its base class
        raise SourceFormatError(
            f"Nubank answered the login with a body that is not JSON (HTML? empty?): {exc}"
        ) from None
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot reach Nubank (offline?): {type(exc).__name__}") from None
    try:
        bills = nu.get_bills()
        details, seen = [], set()
        for bill in bills:
            href = bill.get("_links", {}).get("self", {}).get("href")
            if not href or bill.get("state") == "future":  # future bills are commitments, not charges
                continue
            detail = nu.get_bill_details(bill)["bill"]
            if detail.get("id") not in seen:  # pynubank's mock serves the same bill for every link
                seen.add(detail.get("id"))
                details.append(detail)
        account = nu._client.get(nu._account_url)["account"]  # the credit limit is not in a public getter
        return {
            "card_feed": nu.get_card_feed().get("events", []),
            "bills": details,
            "account_feed": _account_feed(nu),
            "account_balance": str(nu.get_account_balance()),
            "credit_limit_cents": account.get("credit_limit"),
        }
    except NuRequestException as exc:
        raise SourceUnavailable(f"Nubank answered HTTP {exc.status_code} at {_host(exc.url)}") from None
    except requests.exceptions.InvalidJSONError as exc:
        raise SourceFormatError(f"Nubank answered with a body that is not JSON (HTML? empty?): {exc}") from None
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot reach Nubank (offline?): {type(exc).__name__}") from None


def _account_feed(nu: Any) -> list[dict[str, Any]]:
    """Every page of the NuConta feed, each item once (by its cursor).

    Stops at the last page, at a page with nothing new (pynubank's mock serves the same page for any
    cursor) or after MAX_FEED_PAGES.
    """
    edges: list[dict[str, Any]] = []
    seen: set[str] = set()
    cursor = None
    for _ in range(MAX_FEED_PAGES):
        page = nu.get_account_feed_paginated(cursor)
        fresh = [e for e in page.get("edges", []) if e.get("cursor") not in seen]
        seen.update(str(e.get("cursor")) for e in fresh)
        edges += fresh
        if not fresh or not page.get("pageInfo", {}).get("hasNextPage"):
            break
        cursor = fresh[-1].get("cursor")
    return edges


def _host(url: Any) -> str:
    match = re.match(r"https?://([^/]+)", str(url or ""))
    return match[1] if match else "Nubank"


def snapshot_bytes(snapshot: dict[str, Any]) -> bytes:
    """Canonical JSON of a snapshot: the same API data gives the same bytes.

    Canonical JSON: the same API data gives the same bytes (and MD5), so an unchanged
    account ends the run at NothingNew.
    """
    return json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


# -- parsing --------------------------------------------------------------------------------------

_BRL = re.compile(r"-?\s*R\$\s*-?\s*[\d.]+,\d{2}")


def _local_date(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SAO_PAULO)


def parse_snapshot(data: bytes, name: str) -> Parsed:
    """Parse a raw API snapshot (:func:`take_snapshot`'s JSON) into transaction rows.

    Card events, bill line items and NuConta feed items become rows (amounts in BRL); events without
    money (bill markers) are only counted, in the fact ``events_without_money``; ``credit_limit`` and
    ``account_balance`` become facts too. Nothing is quarantined.
    """
    snapshot = json.loads(data)
    rows: list[Txn] = []
    position = 0
    skipped = 0
    for event in snapshot.get("card_feed", []):
        position += 1
        txn = _card_event(event, position)
        if txn is None:
            skipped += 1
        else:
            rows.append(txn)
    for bill in snapshot.get("bills", []):
        for item in bill.get("line_items", []):
            position += 1
            rows.append(_bill_item(item, position, bill.get("account_id")))
    for edge in snapshot.get("account_feed", []):
        position += 1
        txn = _nuconta_edge(edge.get("node", {}), position)
        if txn is None:
            skipped += 1
        else:
            rows.append(txn)
    facts = {"events_without_money": str(skipped)}
    if snapshot.get("credit_limit_cents") is not None:
        facts["credit_limit"] = str(cents(int(snapshot["credit_limit_cents"])))
    if snapshot.get("account_balance") is not None:
        facts["account_balance"] = str(Decimal(str(snapshot["account_balance"])).quantize(Decimal("0.01")))
    # Events without money (bill opened/closed markers) are not transaction rows: counted as a fact, not rows in.
    return Parsed(kind="api", rows=rows, quarantined=[], rows_in=position - skipped, facts=facts)


def _card_event(event: dict[str, Any], position: int) -> Txn | None:
    category = event.get("category")
    if category not in ("transaction", "payment") or event.get("amount") is None:
        return None  # bill opened/closed/paid markers carry no money movement
    day = _local_date(event["time"]).date()
    if category == "payment":
        amount = cents(int(event["amount"]))  # a payment received lowers the card balance
        return Txn("api", "card", day, event.get("title") or "Pagamento recebido", amount, position,
                   transaction_id=event.get("id"), type="bill_payment")  # fmt: skip
    charges = (event.get("details") or {}).get("charges") or {}
    count = int(charges.get("count") or 1)
    # An installment purchase's feed event holds the total; the first installment is what is charged.
    amount = -cents(int(charges["amount"] if count > 1 and charges.get("amount") else event["amount"]))
    return Txn(
        "api",
        "card",
        day,
        event.get("description") or "",
        amount,
        position,
        transaction_id=event.get("id"),
        account_id=event.get("account"),
        source_category=(event.get("title") or "").strip().lower() or None,
        type=infer_type("card", event.get("description") or "", amount, count),
        installment_number=1 if count > 1 else None,
        installment_count=count if count > 1 else None,
    )


def _bill_item(item: dict[str, Any], position: int, account_id: str | None) -> Txn:
    count = int(item.get("charges") or 1)
    amount = -cents(int(item["amount"]))  # positive cents are charges
    return Txn(
        "api",
        "card",
        datetime.fromisoformat(item["post_date"]).date(),
        item.get("title") or "",
        amount,
        position,
        transaction_id=item.get("id"),
        account_id=account_id,
        source_category=(item.get("category") or "").strip().lower() or None,
        type=infer_type("card", item.get("title") or "", amount, count),
        installment_number=int(item.get("index") or 0) + 1 if count > 1 else None,
        installment_count=count if count > 1 else None,
    )


def _nuconta_edge(node: dict[str, Any], position: int) -> Txn | None:
    text = next((t for t in (node.get("detail"), node.get("footer")) if t and _BRL.search(t)), None)
    if text is None or not node.get("postDate"):
        return None  # informational feed items (no amount)
    match = _BRL.search(text)
    assert match is not None
    amount = abs(parse_amount(match.group().replace("R$", "")))
    title = node.get("title") or ""
    counterpart = node.get("detail") if node.get("detail") and node.get("detail") != text else ""
    description = f"{title} - {counterpart}" if counterpart else title
    outgoing = "money-out" in (node.get("tags") or []) or infer_type("nuconta", title, amount) in (
        "transfer_out",
        "bill_payment",
        "purchase",
        "fee",
    )
    signed = -amount if outgoing else amount
    return Txn(
        "api",
        "nuconta",
        datetime.fromisoformat(node["postDate"]).date(),
        description,
        signed,
        position,
        transaction_id=node.get("id"),
        type=infer_type("nuconta", title, signed),
    )
