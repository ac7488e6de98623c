"""QR codes that scan from paper and verify offline.

The QR carries two segments: the verification address (byte mode), so a phone that scans
it opens the registry's page for the document, and after its `#` the document's facts
signed offline-checkably (alphanumeric mode), as the EU Digital COVID Certificate does:

    QL1:<base45( zlib( COSE_Sign1( CBOR(claims) ) ) )>

COSE_Sign1 (RFC 9052) is signed with the registry's Ed25519 key (alg EdDSA, -8; kid =
the first 8 bytes of SHA-256 of the raw public key, as /api/v1/keys publishes it). The
claims are a CBOR map with small integer keys (see CLAIMS). A verifier holding the
published key checks the text with no network: `qinglu certificate verify --offline`.
The code is version 12 or lower (error correction M, else L when M does not fit), so at
the printed 42 mm (a four-module quiet zone included) each module is some 0.58 mm.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import base45
import cbor2
import segno
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message
from segno import consts

from qinglu.core.errors import InvalidInput
from qinglu.documents.signing import RegistryKey, unb64url

PREFIX = "QL1:"
MAX_VERSION = 12
# CBOR claim keys: small integers keep the code small; the names are what they mean.
# The kind is the number's prefix (QL-RC-, QL-TD-...) and the product and its unit are
# the serials' first field, so neither is repeated.
CLAIMS = {1: "number", 4: "quantity", 5: "holder", 6: "serials", 7: "date"}
KEYS = {name: number for number, name in CLAIMS.items()}


class QrTooLarge(ValueError):
    """The facts do not fit a version-12 code."""


def qr_claims(facts: dict[str, Any]) -> dict[str, Any]:
    """What the paper's QR states: the number, quantity, who retired or bought the units
    (beneficiary, else buyer), the serial ranges and the date."""
    holder = facts.get("beneficiary") or facts.get("buyer") or ""
    return {"number": facts["number"], "quantity": facts.get("quantity", ""),
            "holder": holder, "serials": list(facts.get("serials", [])),
            "date": facts["date"]}


def kid(public_raw: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(public_raw).digest()[:8]


def sign_claims(key: RegistryKey, claims: dict[str, Any]) -> str:
    """The QR's offline text: QL1: + base45(zlib(COSE_Sign1(CBOR claims)))."""
    body = cbor2.dumps({KEYS[name]: value for name, value in claims.items()})
    message = Sign1Message(phdr={Algorithm: EdDSA, KID: kid(key.public_raw())}, payload=body)
    private_raw = key.private.private_bytes(serialization.Encoding.Raw,
                                            serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
    message.key = OKPKey(crv=Ed25519, d=private_raw, x=key.public_raw())
    return PREFIX + base45.b45encode(zlib.compress(message.encode(), 9)).decode()


@dataclass
class OfflineCheck:
    valid: bool
    claims: dict[str, Any]
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "claims": self.claims, "problems": self.problems}


def verify_offline(text: str, public: Ed25519PublicKey) -> OfflineCheck:
    """Check a scanned QR text (the whole URL or just QL1:...) with the published key
    alone: no network, no database."""
    # Only line ends are trimmed: a space is one of base45's own characters.
    payload = text.lstrip().rstrip("\r\n").rsplit("#", 1)[-1]
    if not payload.startswith(PREFIX):
        return OfflineCheck(False, {}, ["不是青绿二维码 / not a Qinglu QR code"])
    try:
        message = Sign1Message.decode(zlib.decompress(base45.b45decode(payload[len(PREFIX):])))
        claims = {CLAIMS.get(k, str(k)): v for k, v in cbor2.loads(message.payload or b"").items()}
    except Exception:  # noqa: BLE001 (any damage to the text: it cannot be read)
        return OfflineCheck(False, {}, ["二维码内容无法解析 / the QR payload cannot be read"])
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if message.phdr.get(KID) not in (None, kid(raw)):
        return OfflineCheck(False, claims, ["由其他密钥签名 / signed by another key"])
    message.key = OKPKey(crv=Ed25519, x=raw)
    try:
        valid = bool(message.verify_signature())
    except Exception:  # noqa: BLE001 (a malformed signature is a bad one)
        valid = False
    problems = [] if valid else ["签名无效：内容被改动或非本登记簿签发 / bad signature: "
                                 "altered, or not signed by this registry"]
    return OfflineCheck(valid, claims, problems)


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """The published key from a file: /api/v1/keys's JSON (or one JWK), or a PEM key.
    Any other file is refused saying what was expected, never with a decoder's error."""
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise _not_a_key("不是文本", "it is not text") from None
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise _not_a_key("不是有效的 JSON", "it is not valid JSON") from None
        return _jwk_key(document)
    try:
        loaded = serialization.load_pem_public_key(text.encode())
    except (ValueError, UnsupportedAlgorithm):
        raise _not_a_key("不是 PEM 公钥", "it is not a PEM public key") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise _not_a_key("不是 Ed25519 公钥", "it is not an Ed25519 key")
    return loaded


def _jwk_key(document: Any) -> Ed25519PublicKey:
    """The Ed25519 key of a JWK set ({"keys": [...]}) or of one JWK."""
    jwks = document.get("keys", [document]) if isinstance(document, dict) else []
    jwk = next((k for k in jwks if isinstance(k, dict) and k.get("crv") == "Ed25519"),
               None) if isinstance(jwks, list) else None
    if jwk is None:
        raise _not_a_key("其中没有 Ed25519 公钥", "it holds no Ed25519 key")
    try:
        return Ed25519PublicKey.from_public_bytes(unb64url(jwk["x"]))
    except (KeyError, TypeError, ValueError):  # no "x", or not 32 bytes of base64url
        raise _not_a_key("Ed25519 公钥的 x 无效", "the Ed25519 key's x is not valid") from None


def _not_a_key(zh: str, en: str) -> InvalidInput:
    return InvalidInput(
        f"公钥文件无法使用（{zh}）：须为 /api/v1/keys 的 JSON、一个 Ed25519 JWK 或 PEM 公钥",
        f"the key file cannot be used ({en}): give the JSON of /api/v1/keys, one Ed25519 "
        "JWK, or a PEM public key")


def document_address(base_url: str, number: str) -> str:
    """Where the QR leads a phone: the registry's page for the document."""
    return f"{base_url.rstrip('/')}/verify/{quote(number, safe='')}"


def document_qr(address: str, offline_text: str) -> segno.QRCode:
    """The printed code: the address (byte mode) + "#" + the offline text (alphanumeric),
    at version 12 or lower; error correction M where it fits, else L."""
    segments = [(address + "#", consts.MODE_BYTE), (offline_text, consts.MODE_ALPHANUMERIC)]
    for error in ("m", "l"):
        # segno takes a list of (content, mode) segments; its annotations say str only.
        code = segno.make(segments, error=error, boost_error=False,  # type: ignore[arg-type]
                          micro=False)
        if int(code.version) <= MAX_VERSION:
            return code
    raise QrTooLarge(f"QR version {code.version} > {MAX_VERSION}")


def qr_text(address: str, offline_text: str) -> str:
    return f"{address}#{offline_text}"


def verification_url(base_url: str, number: str, payload: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{quote(number, safe='')}?p={payload}"


def parse_verification_url(url: str) -> tuple[str, str | None]:
    parsed = urlparse(url)
    number = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    payload = parse_qs(parsed.query).get("p", [None])[0]
    return number, payload


def qr_png(content: str | segno.QRCode, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    code = content if isinstance(content, segno.QRCode) else segno.make(content, error="m")
    code.save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
