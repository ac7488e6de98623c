"""Ed25519 signatures over a canonical form of a document's facts.

The canonical form is JSON with sorted keys, no spaces, UTF-8 (ensure_ascii off);
every value is a string or an integer (quantities go in as decimal strings, so no
float ever reaches a signature). The registry's key pair is made on first use and
kept under var/ (QINGLU_KEY_DIR to move it); the public key is published at
/api/v1/keys as a JWK.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from qinglu.core.errors import InvalidInput
from qinglu.db.engine import var_dir

PRIVATE_FILE = "registry_ed25519.key"
PUBLIC_FILE = "registry_ed25519.pub"


class InvalidPayload(InvalidInput):
    code = "invalid-payload"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_bytes(facts: dict[str, Any]) -> bytes:
    for key, value in facts.items():
        if isinstance(value, float) or not isinstance(value, str | int | list):
            raise TypeError(f"fact {key!r} must be a string, an integer or a list of strings")
    return json.dumps(facts, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


@dataclass(frozen=True)
class RegistryKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def public_raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_raw()).hexdigest()[:16]

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(self.public_raw()),
                "kid": self.key_id, "use": "sig", "alg": "EdDSA"}

    def public_pem(self) -> str:
        return self.public.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, facts: dict[str, Any]) -> str:
        return b64url(self.private.sign(canonical_bytes(facts)))


def verify(facts: dict[str, Any], signature: str, public: Ed25519PublicKey) -> bool:
    try:
        return verify_bytes(canonical_bytes(facts), signature, public)
    except TypeError:
        return False


def verify_bytes(canonical: bytes, signature: str, public: Ed25519PublicKey) -> bool:
    """Is `signature` this key's signature of exactly these bytes?"""
    try:
        public.verify(unb64url(signature), canonical)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def key_dir() -> Path:
    return Path(os.environ.get("QINGLU_KEY_DIR", str(var_dir() / "keys")))


def load_or_create_key(directory: Path | None = None) -> RegistryKey:
    """The registry's signing key: loaded if present, else made once (file mode 0600)."""
    directory = directory or key_dir()
    private_path = directory / PRIVATE_FILE
    if private_path.exists():
        loaded = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{private_path} is not an Ed25519 key")
        return RegistryKey(loaded)
    directory.mkdir(parents=True, exist_ok=True)
    key = RegistryKey(Ed25519PrivateKey.generate())
    pem = key.private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    (directory / PUBLIC_FILE).write_text(key.public_pem())
    return key


def encode_payload(facts: dict[str, Any], signature: str) -> str:
    """The QR's compact payload: base64url(canonical facts) "." signature."""
    return f"{b64url(canonical_bytes(facts))}.{signature}"


def decode_payload(text: str) -> tuple[dict[str, Any], str]:
    try:
        body, signature = text.strip().split(".")
        facts = json.loads(unb64url(body))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidPayload("二维码内容无法解析", "the QR payload cannot be read") from None
    if not isinstance(facts, dict) or not signature:
        raise InvalidPayload("二维码内容无法解析", "the QR payload cannot be read")
    return facts, signature
