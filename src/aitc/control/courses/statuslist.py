"""Revocation by W3C *Bitstring Status List v1.0*: one bit per credential, published signed.

Every credential aitc issues carries a ``credentialStatus`` entry
(``BitstringStatusListEntry``, purpose ``revocation``) naming a status list credential and its
index there. The status list credential (``BitstringStatusListCredential``) is served by the
API at ``/api/v1/credentials/status/N``, signed with eddsa-jcs-2022 by the same issuer key as
the certificates; its ``encodedList`` is the list's bits, GZIP-compressed, in multibase
base64url (``u…``, no padding). Bit 0 is the most significant bit of the first byte; a set bit
means revoked.

A credential's place is derived from its enrolment's number: list ``1 + n // LIST_BITS``,
index ``n % LIST_BITS``. Every list has the spec's minimum length, 131,072 bits (16 KB before
compression), so that a verifier fetching a list learns nothing about which of many
credentials it checks.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from aitc.control.courses.credentials import (
    VC_CONTEXT,
    Failure,
    StatusCheck,
    iso,
    issuer_id,
    proof_failure,
    window_failure,
)

LIST_BITS = 131_072
PURPOSE = "revocation"
LIST_PATH = "/api/v1/credentials/status"


def position(number: int) -> tuple[int, int]:
    """(list number, index in it) of the credential of enrolment ``number``."""
    return 1 + number // LIST_BITS, number % LIST_BITS


def list_url(base: str, list_no: int) -> str:
    """The URL of status list ``list_no`` on the server at ``base``."""
    return f"{base.rstrip('/')}{LIST_PATH}/{list_no}"


def entry(base: str, number: int) -> dict[str, Any]:
    """The ``credentialStatus`` of the credential of enrolment ``number``."""
    list_no, index = position(number)
    url = list_url(base, list_no)
    return {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def encode(indexes: Iterable[int], size: int = LIST_BITS) -> str:
    """``encodedList`` of a list of ``size`` bits with ``indexes`` set."""
    bits = bytearray(size // 8)
    for i in indexes:
        if not 0 <= i < size:
            raise ValueError(f"index {i} is outside a list of {size} bits")
        bits[i // 8] |= 0x80 >> (i % 8)
    packed = gzip.compress(bytes(bits), mtime=0)  # mtime 0: the same bits, the same bytes
    return "u" + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode(encoded: str) -> bytes:
    """The bits of an ``encodedList`` (``ValueError`` when it is not one)."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList is not multibase base64url (it must start with 'u')")
    body = encoded[1:]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return gzip.decompress(packed)
    except (binascii.Error, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"encodedList is not a GZIP-compressed bitstring ({exc})") from None


def is_set(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def list_credential(*, url: str, issuer: str, revoked: Iterable[int], now: float) -> dict[str, Any]:
    """The unsigned status list credential at ``url`` with the ``revoked`` indexes set, valid
    from ``now``."""
    return {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": iso(now),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE,
            "encodedList": encode(revoked),
        },
    }


class StatusListUnavailable(Exception):
    """A status list could not be read (the network, the server, not JSON)."""


def checker(fetch: Callable[[str], Any]) -> StatusCheck:
    """The status step of a verifier that reads status lists with ``fetch(url)`` (which
    raises ``StatusListUnavailable`` when it cannot), following the spec's validation:

    each ``BitstringStatusListEntry`` of purpose revocation names a list credential that must
    read, be a ``BitstringStatusListCredential`` of the same purpose, be signed by a key of the
    credential's own issuer, be within its validity window, hold at least 131,072 bits, and
    have the entry's bit clear; else ``status`` (the list fails) or ``revoked`` (the bit is
    set). Entries of other types or purposes are not aitc's and are left alone."""

    def check(credential: dict[str, Any], now: float) -> Failure | None:
        status = credential.get("credentialStatus")
        entries = status if isinstance(status, list) else [status] if status else []
        for e in entries:
            if e.get("type") == "BitstringStatusListEntry" and e.get("statusPurpose") == PURPOSE:
                failure = _check_entry(e, issuer_id(credential), now, fetch)
                if failure is not None:
                    return failure
        return None

    return check


def _check_entry(
    e: dict[str, Any], issuer: str, now: float, fetch: Callable[[str], Any]
) -> Failure | None:
    url = str(e.get("statusListCredential", ""))
    try:
        index = int(str(e.get("statusListIndex")))
    except ValueError:
        return Failure("status", f"statusListIndex {e.get('statusListIndex')!r} is not a number")
    try:
        listed = fetch(url)
    except StatusListUnavailable as exc:
        return Failure("status", f"cannot read the status list {url}: {exc}")
    problem = _list_problem(listed, issuer, now)
    if problem is None:
        try:
            bits = decode(str(listed["credentialSubject"].get("encodedList", "")))
        except ValueError as exc:
            problem = str(exc)
        else:
            if len(bits) * 8 < LIST_BITS or index < 0 or index >= len(bits) * 8:
                problem = (
                    f"index {index} is outside its {len(bits) * 8} bits (at least {LIST_BITS})"
                )
    if problem is not None:
        return Failure("status", f"the status list {url} does not verify: {problem}")
    if is_set(bits, index):
        return Failure("revoked", f"revoked by its issuer (status list {url}, index {index})")
    return None


def _list_problem(listed: Any, issuer: str, now: float) -> str | None:
    """What is wrong with a status list credential, or None."""
    if not isinstance(listed, dict) or "BitstringStatusListCredential" not in (
        listed.get("type") or []
    ):
        return "not a BitstringStatusListCredential"
    subject = listed.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != PURPOSE:
        return f"its credentialSubject is not a list of purpose {PURPOSE}"
    if issuer_id(listed) != issuer:
        return f"issued by {issuer_id(listed)}, not by the credential's issuer {issuer}"
    failure = proof_failure(listed)
    if failure is None:
        failure = window_failure(listed, now) if isinstance(listed.get("validFrom"), str) else None
    return None if failure is None else f"{failure.reason}: {failure.message}"
