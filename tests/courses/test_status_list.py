"""Bitstring Status List v1.0: the bits as the spec packs them, and the status check of a
verifier refusing a revoked credential, a list it cannot read, and a list it must not trust."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_credentials import NOW, badge

from aitc.control.courses import statuslist
from aitc.control.courses.credentials import did_key, sign, verify

BASE = "https://lab.example"


def test_bit_zero_is_the_first_bytes_most_significant_bit() -> None:
    encoded = statuslist.encode([0, 9, statuslist.LIST_BITS - 1])
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == statuslist.LIST_BITS // 8 == 16384
    assert (raw[0], raw[1], raw[-1]) == (0b1000_0000, 0b0100_0000, 0b0000_0001)
    bits = statuslist.decode(encoded)
    assert [i for i in (0, 1, 8, 9, 10) if statuslist.is_set(bits, i)] == [0, 9]


def test_the_same_bits_encode_to_the_same_text() -> None:
    assert statuslist.encode([5, 3]) == statuslist.encode([3, 5])
    with pytest.raises(ValueError, match="outside"):
        statuslist.encode([statuslist.LIST_BITS])


def test_an_entry_names_its_list_and_index() -> None:
    entry = statuslist.entry(BASE, statuslist.LIST_BITS + 7)
    url = f"{BASE}/api/v1/credentials/status/2"
    assert entry == {
        "id": f"{url}#7",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "7",
        "statusListCredential": url,
    }


class Lists:
    """Status lists served from a dict, as a verifier would fetch them."""

    def __init__(self) -> None:
        self.by_url: dict[str, Any] = {}

    def publish(self, key: Ed25519PrivateKey, revoked: list[int], list_no: int = 1) -> None:
        url = statuslist.list_url(BASE, list_no)
        unsigned = statuslist.list_credential(
            url=url, issuer=did_key(key.public_key()), revoked=revoked, now=NOW
        )
        self.by_url[url] = sign(unsigned, key, created=NOW)

    def __call__(self, url: str) -> Any:
        if url not in self.by_url:
            raise statuslist.StatusListUnavailable("404 Not Found")
        return self.by_url[url]


def reason(credential: dict[str, Any], lists: Lists) -> str | None:
    failure = verify(credential, now=NOW, status=statuslist.checker(lists))
    return None if failure is None else failure.reason


def test_a_credential_whose_bit_is_set_is_revoked() -> None:
    key, lists = Ed25519PrivateKey.generate(), Lists()
    good = badge(key, credentialStatus=statuslist.entry(BASE, 42))
    lists.publish(key, revoked=[41, 43])
    assert reason(good, lists) is None
    lists.publish(key, revoked=[42])
    failure = verify(good, now=NOW, status=statuslist.checker(lists))
    assert failure is not None and (failure.reason, failure.step) == ("revoked", "status")
    assert "index 42" in failure.message
    assert verify(good, now=NOW) is None  # offline: the status is not checked


def test_a_list_that_cannot_be_read_or_trusted_fails_the_status_check() -> None:
    key, stranger, lists = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), Lists()
    good = badge(key, credentialStatus=statuslist.entry(BASE, 3))
    assert reason(good, lists) == "status"  # nothing published
    lists.publish(stranger, revoked=[])  # a list signed by someone else
    failure = verify(good, now=NOW, status=statuslist.checker(lists))
    assert failure is not None and failure.reason == "status"
    assert "not by the credential's issuer" in failure.message
    lists.publish(key, revoked=[])
    url = statuslist.list_url(BASE, 1)
    lists.by_url[url] = {**lists.by_url[url], "validFrom": "2099-01-01T00:00:00Z"}
    assert reason(good, lists) == "status"  # altered after signing
    lists.publish(key, revoked=[])
    short = statuslist.list_credential(
        url=url, issuer=did_key(key.public_key()), revoked=[], now=NOW
    )
    short["credentialSubject"]["encodedList"] = statuslist.encode([], size=1024)
    lists.by_url[url] = sign(short, key, created=NOW)
    failure = verify(good, now=NOW, status=statuslist.checker(lists))
    assert failure is not None and "at least 131072" in failure.message


def test_the_specs_example_list_decodes_to_131072_clear_bits() -> None:
    # Bitstring Status List v1.0, example "BitstringStatusListCredential": an empty list
    spec = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
    bits = statuslist.decode(spec)
    assert len(bits) * 8 == statuslist.LIST_BITS and not any(bits)
    assert statuslist.decode(statuslist.encode([])) == bits
