"""Signing and verifying: test vectors of eddsa-jcs-2022 (the W3C spec's own), a round trip,
and each OB 3.0 verification step failing with its own reason."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aitc.control.courses.credentials import (
    OB_CONTEXT,
    VC_CONTEXT,
    Failure,
    b58decode,
    b58encode,
    did_key,
    key_of,
    proof_verifies,
    sign,
    verify,
)
from aitc.control.courses.jcs import canonicalize

NOW = 1_800_000_000.0

# W3C Data Integrity EdDSA Cryptosuites v1.0, test vectors of eddsa-jcs-2022
# (github.com/w3c/vc-di-eddsa, TestVectors/keyPair.json and TestVectors/eddsa-jcs-2022/).
W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_PRIVATE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
W3C_UNSIGNED: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
W3C_CANON_DOC = (
    '{"@context":["https://www.w3.org/ns/credentials/v2","https://www.w3.org/ns/credentials/'
    'examples/v2"],"credentialSubject":{"alumniOf":"The School of Examples","id":"did:example:'
    'abcdefgh"},"description":"A minimum viable example of an Alumni Credential.","id":"urn:uuid:'
    '58172aac-d8ba-11ed-83dd-0b3aef56cc33","issuer":"https://vc.example/issuers/5678","name":'
    '"Alumni Credential","type":["VerifiableCredential","AlumniCredential"],"validFrom":'
    '"2023-01-01T00:00:00Z"}'
)
W3C_DOC_HASH = "59b7cb6251b8991add1ce0bc83107e3db9dbbab5bd2c28f687db1a03abc92f19"
W3C_PROOF_HASH = (
    "66ab154f5c2890a140cb8388a22a160454f80575f6eae09e5a097cabe539a1db"  # did:key method
)
W3C_SIGNED_PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "created": "2023-02-24T23:36:38Z",
    "verificationMethod": f"https://vc.example/issuers/5678#{W3C_PUBLIC}",
    "proofPurpose": "assertionMethod",
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "proofValue": (
        "z63t83Y53KfzJ5ZosfKTnqfMcKB2dmTrfjSaQjeNNjAD5srBowQfmWqeRb8rRjmeEuCBEsddF9LsVogtuTsijJKh4"
    ),
}


def test_jcs_gives_the_w3c_canonical_document_and_hash() -> None:
    assert canonicalize(W3C_UNSIGNED).decode() == W3C_CANON_DOC
    assert hashlib.sha256(canonicalize(W3C_UNSIGNED)).hexdigest() == W3C_DOC_HASH


def test_the_proof_configuration_hashes_as_the_w3c_vector() -> None:
    config = {k: v for k, v in W3C_SIGNED_PROOF.items() if k != "proofValue"}
    config["verificationMethod"] = f"did:key:{W3C_PUBLIC}#{W3C_PUBLIC}"
    assert hashlib.sha256(canonicalize(config)).hexdigest() == W3C_PROOF_HASH


def test_the_w3c_signed_credential_verifies_and_signing_reproduces_it() -> None:
    public = key_of(f"did:key:{W3C_PUBLIC}")
    signed = {**W3C_UNSIGNED, "proof": W3C_SIGNED_PROOF}
    assert proof_verifies(signed, public)
    seed = b58decode(W3C_PRIVATE[1:])
    assert seed[:2] == b"\x80\x26"  # multicodec ed25519-priv
    key = Ed25519PrivateKey.from_private_bytes(seed[2:])
    assert did_key(key.public_key()) == f"did:key:{W3C_PUBLIC}"
    config = {k: v for k, v in W3C_SIGNED_PROOF.items() if k != "proofValue"}
    data = (
        hashlib.sha256(canonicalize(config)).digest()
        + hashlib.sha256(canonicalize(W3C_UNSIGNED)).digest()
    )
    assert (
        "z" + b58encode(key.sign(data)) == W3C_SIGNED_PROOF["proofValue"]
    )  # Ed25519 is deterministic
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["alumniOf"] = "Another School"
    assert not proof_verifies(tampered, public)


@pytest.mark.parametrize(
    ("value", "text"),
    [({"b": 1, "a": [True, None, 1.5]}, '{"a":[true,null,1.5],"b":1}'),
     ("é\n\u001f", '"é\\n\\u001f"'),
     ({"\u20ac": 1, "\r": 2, "1": 3}, '{"\\r":2,"1":3,"\u20ac":1}'),
     (1e21, "1e+21"), (1e-7, "1e-7")],
)  # fmt: skip
def test_jcs_sorts_keys_by_utf16_and_prints_numbers_as_ecmascript(value: Any, text: str) -> None:
    assert canonicalize(value).decode() == text


def badge(key: Ed25519PrivateKey, **extra: Any) -> dict[str, Any]:
    doc = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": did_key(key.public_key()), "type": ["Profile"], "name": "Lab"},
        "validFrom": "2027-01-15T07:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {"id": "urn:a", "type": ["Achievement"], "name": "Intro",
                            "description": "d", "criteria": {"narrative": "n"}},
        },
        **extra,
    }  # fmt: skip
    return sign(doc, key, created=NOW)


def test_a_signed_badge_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    assert verify(badge(key), now=NOW) is None
    assert verify(badge(key), now=NOW, issuer=did_key(key.public_key())) is None


def reason(credential: Any, **kw: Any) -> str | None:
    failure = verify(credential, now=kw.pop("now", NOW), **kw)
    return failure.reason if failure else None


def test_each_step_fails_with_its_own_reason() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    good = badge(key)
    assert reason({"type": ["VerifiableCredential"]}) == "format"
    assert reason({k: v for k, v in good.items() if k != "proof"}) == "proof_missing"
    assert (
        reason({**good, "proof": {**good["proof"], "cryptosuite": "eddsa-rdfc-2022"}})
        == "proof_type"
    )
    tampered = copy.deepcopy(good)
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced"
    assert reason(tampered) == "signature"
    resigned = sign({k: v for k, v in good.items() if k != "proof"}, other, created=NOW)
    assert reason(resigned) == "wrong_key"  # signed by a key that is not the issuer's
    forged = badge(other)
    assert reason(forged, issuer=did_key(key.public_key())) == "issuer"
    revoked = Failure("revoked", "revoked by its issuer")
    assert reason(good, status=lambda _c, _now: revoked) == "revoked"  # statuslist.checker's
    assert reason(badge(key, validUntil="2027-01-15T07:30:00Z")) == "expired"
    assert reason(good, now=NOW - 86400 * 400) == "not_yet_valid"
