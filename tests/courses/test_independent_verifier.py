"""A credential aitc issues verifies with a verifier written here from the specifications,
sharing no code with aitc's own: JCS (RFC 8785) canonicalisation, the eddsa-jcs-2022 "verify
proof" steps (W3C Data Integrity EdDSA Cryptosuites v1.0, 3.3.2 and 3.3.4: SHA-256 of the
canonical proof options, then of the canonical document, concatenated), the did:key Ed25519
Multikey (multicodec 0xed01, base58btc), and Ed25519 verification (RFC 8032, through the
``cryptography`` package). It also refuses the same credential altered by one character."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from typing import Any

from course_harness import (
    DAY,
    CourseApi,
    course_api_fixture,  # noqa: F401 (the course_api fixture)
    make_course,
    session_body,
)
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BTC = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def canonical(value: Any) -> str:
    """RFC 8785: sorted keys (UTF-16 code units), no whitespace, ECMAScript numbers."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        assert math.isfinite(value)
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)  # shortest round trip, as ECMAScript's Number::toString
        return re.sub(r"e([+-])0*(\d+)", r"e\1\2", text)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # escapes only " \\ and controls, as JCS
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(f"{canonical(k)}:{canonical(value[k])}" for k in keys) + "}"


def base58btc(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + BTC.index(ch)
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


def independent_verify(secured: dict[str, Any]) -> bool:
    document = copy.deepcopy(secured)
    proof = document.pop("proof")
    proof_value = proof.pop("proofValue")
    assert (proof["type"], proof["cryptosuite"]) == ("DataIntegrityProof", "eddsa-jcs-2022")
    if "@context" in proof:  # 3.3.2: the proof's context must prefix the document's
        assert document["@context"][: len(proof["@context"])] == proof["@context"]
        document["@context"] = proof["@context"]
    data = (
        hashlib.sha256(canonical(proof).encode()).digest()
        + hashlib.sha256(canonical(document).encode()).digest()
    )
    did = proof["verificationMethod"].split("#")[0]
    assert did == secured["issuer"]["id"] and did.startswith("did:key:z")
    multikey = base58btc(did.removeprefix("did:key:z"))
    assert multikey[:2] == b"\xed\x01" and len(multikey) == 34
    assert proof_value.startswith("z")
    try:
        Ed25519PublicKey.from_public_bytes(multikey[2:]).verify(base58btc(proof_value[1:]), data)
    except InvalidSignature:
        return False
    return True


def test_the_canonical_form_is_rfc_8785s() -> None:
    assert canonical({"b": [1, 2.0, None], "a": {"\u20ac": True, "\r": "é\n"}}) == (
        '{"a":{"\\r":"é\\n","\u20ac":true},"b":[1,2,null]}'
    )


def test_an_issued_credential_verifies_independently(course_api: CourseApi) -> None:
    make_course(course_api, hours=7.5, criteria="Trains a CNN to 90 % accuracy")
    sid = course_api.ok("carol", "POST", "/course-sessions", session_body(course_api))["id"]
    course_api.ok("carol", "POST", f"/course-sessions/{sid}/enrolments", {"member": "alice"})
    course_api.clock.advance(2 * DAY + 3600)
    body = {"member": "alice", "result": "passed"}
    course_api.ok("carol", "POST", f"/course-sessions/{sid}/results", body)
    (credential,) = course_api.ok("carol", "POST", f"/course-sessions/{sid}/certificates")["data"]
    assert credential["credentialSubject"]["achievement"]["creditsAvailable"] == 7.5
    assert independent_verify(credential)
    altered = copy.deepcopy(credential)
    altered["credentialSubject"]["achievement"]["criteria"]["narrative"] = "Trains a CNN to 91 %"
    assert not independent_verify(altered)
