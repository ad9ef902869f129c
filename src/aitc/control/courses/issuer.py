"""The lab's issuer key: an Ed25519 key in the server's private state dir, made on first use.

The file holds the 32-byte private key in hex, readable by the server's user only (0600, in
the 0700 state dir). Its public half is the issuer's ``did:key``, which every certificate names.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

KEY_FILE = "issuer-ed25519.key"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, created (0600) when the file does not exist yet."""
    if path.exists():
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(raw.hex() + "\n")
    return key
