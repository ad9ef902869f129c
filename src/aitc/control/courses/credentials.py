"""Signing and verifying Open Badges 3.0 credentials with the ``eddsa-jcs-2022`` cryptosuite.

Signing follows W3C *Data Integrity EdDSA Cryptosuites v1.0* (section 3.3, eddsa-jcs-2022):
the proof configuration (``type``, ``cryptosuite``, ``created``, ``verificationMethod``,
``proofPurpose`` and the document's ``@context``) and the document without its proof are each
canonicalised with JCS (RFC 8785) and hashed with SHA-256; Ed25519 signs the two hashes
concatenated (configuration first); ``proofValue`` is the signature in multibase base58btc.
The issuer is a ``did:key`` (an Ed25519 ``Multikey``), so a verifier needs no network.

Verifying follows the Open Badges 3.0 verification steps, in the spec's order, each failing with
its own reason (``Failure.reason``):

1. the credential conforms (a JSON object with the VC 2.0 and OB 3.0 contexts and types, an
   issuer, ``validFrom`` and a ``credentialSubject`` with an achievement): ``format``;
2. the proof: present (``proof_missing``), a ``DataIntegrityProof`` of ``eddsa-jcs-2022`` for
   ``assertionMethod`` (``proof_type``), made with a key of the issuer (``wrong_key``), whose
   signature holds over the document (``signature``); and the issuer is the one expected, when
   the verifier names one (``issuer``);
3. refresh: aitc issues no ``refreshService``; one present is not followed;
4. status and validity window: the credential's status list cannot be read or does not
   verify (``status``), the issuer revoked it (``revoked``; both only where the caller hands a
   status check, ``statuslist.checker``), past ``validUntil`` (``expired``), before
   ``validFrom`` (``not_yet_valid``).

Each reason belongs to one of four checks (``STEP_OF``): ``schema``, ``signature``,
``status`` and ``validity``; a verifier reports the check that failed and the reason.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from aitc.control.courses.jcs import canonicalize

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CRYPTOSUITE = "eddsa-jcs-2022"
_ED25519_PUB = b"\xed\x01"  # multicodec prefix of an Ed25519 public key
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        if ch not in _B58:
            raise ValueError(f"{ch!r} is not a base58 character")
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def did_key(public: Ed25519PublicKey) -> str:
    """The ``did:key`` of an Ed25519 public key (its Multikey, base58btc)."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "did:key:z" + b58encode(_ED25519_PUB + raw)


def key_of(verification_method: str) -> Ed25519PublicKey:
    """The public key a ``did:key:z…#z…`` verification method names (``ValueError`` if none)."""
    did, _, fragment = verification_method.partition("#")
    if not did.startswith("did:key:z") or (fragment and did != f"did:key:{fragment}"):
        raise ValueError(f"{verification_method!r} is not an Ed25519 did:key")
    raw = b58decode(did.removeprefix("did:key:z"))
    if not raw.startswith(_ED25519_PUB) or len(raw) != 34:
        raise ValueError(f"{verification_method!r} is not an Ed25519 did:key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def iso(t: float) -> str:
    """A time as VC 2.0 writes it: UTC, to the second, with ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    config_hash = hashlib.sha256(canonicalize(proof_config)).digest()
    return config_hash + hashlib.sha256(canonicalize(document)).digest()


def sign(document: dict[str, Any], key: Ed25519PrivateKey, *, created: float) -> dict[str, Any]:
    """``document`` with a ``DataIntegrityProof`` (eddsa-jcs-2022) by ``key``'s did:key."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    did = did_key(key.public_key())
    config: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": iso(created),
        "verificationMethod": f"{did}#{did.removeprefix('did:key:')}",
        "proofPurpose": "assertionMethod",
    }
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    signature = key.sign(_hash_data(unsecured, config))
    return {**unsecured, "proof": {**config, "proofValue": "z" + b58encode(signature)}}


STEPS = ("schema", "signature", "status", "validity")
STEP_OF = {
    "format": "schema",
    "proof_missing": "signature",
    "proof_type": "signature",
    "wrong_key": "signature",
    "signature": "signature",
    "issuer": "signature",
    "status": "status",
    "revoked": "status",
    "expired": "validity",
    "not_yet_valid": "validity",
}


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a credential does not verify: the step's reason code and what exactly failed."""

    reason: str
    message: str

    @property
    def step(self) -> str:
        """The check that failed: schema, signature, status or validity."""
        return STEP_OF[self.reason]


# Checks a credential's status at a time: None when it is in good standing, else why not.
StatusCheck = Callable[[dict[str, Any], float], Failure | None]


class _Failed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.failure = Failure(reason, message)


def verify(
    credential: Any,
    *,
    now: float,
    issuer: str | None = None,
    status: StatusCheck | None = None,
) -> Failure | None:
    """None when ``credential`` verifies at ``now``; else the first step that fails (see the
    module docstring). ``issuer`` is the issuer id the verifier trusts, when it has one;
    ``status`` checks the credential's status (None: offline, the status is not checked)."""
    try:
        _check_format(credential)
        _check_proof(credential)
        if issuer is not None and _issuer_id(credential) != issuer:
            raise _Failed("issuer", f"issued by {_issuer_id(credential)}, not by {issuer}")
        if status is not None and (failure := status(credential, now)) is not None:
            return failure
        _check_window(credential, now)
    except _Failed as exc:
        return exc.failure
    return None


def issuer_id(credential: dict[str, Any]) -> str:
    """The id of a credential's issuer (given as a string or as a profile with an id)."""
    return _issuer_id(credential)


def _issuer_id(credential: dict[str, Any]) -> str:
    issuer = credential.get("issuer")
    return str(issuer.get("id") if isinstance(issuer, dict) else issuer)


def _check_format(c: Any) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise _Failed("format", f"not an Open Badges 3.0 credential: {what}")

    need(isinstance(c, dict), "not a JSON object")
    context, types = c.get("@context"), c.get("type")
    need(
        isinstance(context, list) and context[:1] == [VC_CONTEXT],
        f"@context must start with {VC_CONTEXT}",
    )
    need(
        any(str(x).startswith("https://purl.imsglobal.org/spec/ob/v3p0/context") for x in context),
        "@context lacks the OB 3.0 context",
    )
    need(
        isinstance(types, list) and "VerifiableCredential" in types,
        "type lacks VerifiableCredential",
    )
    need(
        "OpenBadgeCredential" in types or "AchievementCredential" in types,
        "type lacks OpenBadgeCredential",
    )
    need(bool(_issuer_id(c)) and c.get("issuer") is not None, "no issuer")
    need(isinstance(c.get("validFrom"), str), "no validFrom")
    subject = c.get("credentialSubject")
    need(
        isinstance(subject, dict) and isinstance(subject.get("achievement"), dict),
        "credentialSubject has no achievement",
    )
    for key in ("validFrom", "validUntil"):
        if key in c:
            need(_time(c[key]) is not None, f"{key} is not an XML Schema dateTime")
    status = c.get("credentialStatus")
    if status is not None:
        entries = status if isinstance(status, list) else [status]
        need(
            all(isinstance(e, dict) and isinstance(e.get("type"), str) for e in entries),
            "each credentialStatus entry must be an object with a type",
        )


def _time(value: Any) -> float | None:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.timestamp() if t.tzinfo else None


def _check_proof(c: dict[str, Any]) -> None:
    proof = c.get("proof")
    if not isinstance(proof, dict):
        raise _Failed("proof_missing", "the credential has no embedded proof")
    kind = (proof.get("type"), proof.get("cryptosuite"), proof.get("proofPurpose"))
    if kind != ("DataIntegrityProof", CRYPTOSUITE, "assertionMethod"):
        raise _Failed(
            "proof_type",
            f"unsupported proof {kind}: want DataIntegrityProof, {CRYPTOSUITE}, assertionMethod",
        )
    method = str(proof.get("verificationMethod", ""))
    if method.partition("#")[0] != _issuer_id(c):
        raise _Failed(
            "wrong_key", f"signed with {method}, which is not a key of the issuer {_issuer_id(c)}"
        )
    try:
        public = key_of(method)
        signature = b58decode(str(proof.get("proofValue", "")).removeprefix("z"))
    except ValueError as exc:
        raise _Failed("wrong_key", str(exc)) from None
    _verify_signature(c, proof, public, signature)


def proof_verifies(document: dict[str, Any], public: Ed25519PublicKey) -> bool:
    """Whether ``document``'s eddsa-jcs-2022 proof holds under ``public`` (the cryptosuite's
    "verify proof" algorithm alone, whatever the document is)."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        return False
    try:
        signature = b58decode(str(proof.get("proofValue", "")).removeprefix("z"))
        _verify_signature(document, proof, public, signature)
    except (_Failed, ValueError):
        return False
    return True


def _verify_signature(
    c: dict[str, Any], proof: dict[str, Any], public: Ed25519PublicKey, signature: bytes
) -> None:
    unsecured = copy.deepcopy({k: v for k, v in c.items() if k != "proof"})
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        context = options["@context"]
        if unsecured.get("@context", [])[: len(context)] != context:
            raise _Failed("signature", "the proof's @context does not match the credential's")
        unsecured["@context"] = context
    if not str(proof.get("proofValue", "")).startswith("z"):
        raise _Failed("signature", "proofValue is not multibase base58btc")
    try:
        public.verify(signature, _hash_data(unsecured, options))
    except InvalidSignature:
        raise _Failed(
            "signature", "the signature does not match the credential (altered after signing?)"
        ) from None


def proof_failure(document: dict[str, Any]) -> Failure | None:
    """Whether ``document``'s proof fails step 2 (made by a key of its own issuer, holding
    over the document): for documents other than badges, such as a status list."""
    try:
        _check_proof(document)
    except _Failed as exc:
        return exc.failure
    return None


def window_failure(c: dict[str, Any], now: float) -> Failure | None:
    """Whether ``now`` is outside the credential's validity window (``expired``,
    ``not_yet_valid``); the dates must already be valid (``format``)."""
    try:
        _check_window(c, now)
    except _Failed as exc:
        return exc.failure
    return None


def _check_window(c: dict[str, Any], now: float) -> None:
    until = _time(c["validUntil"]) if "validUntil" in c else None
    if until is not None and now >= until:
        raise _Failed("expired", f"expired at {c['validUntil']}")
    start = _time(c["validFrom"])
    if start is not None and now < start:
        raise _Failed("not_yet_valid", f"valid only from {c['validFrom']}")
