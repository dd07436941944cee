"""L2 (API-key HMAC) authentication of CLOB REST calls, for the client and for the local exchange.

Every trading/account call carries POLY_ADDRESS, POLY_API_KEY, POLY_PASSPHRASE, POLY_TIMESTAMP (unix
seconds) and POLY_SIGNATURE, where

    POLY_SIGNATURE = base64url(HMAC-SHA256(base64url_decode(secret), timestamp + METHOD + path + body))

with the '=' padding kept. `path` is the request path without the query string: the SDKs sign
`/data/orders` while requesting `/data/orders?next_cursor=MA==`, so pagination cursors are not
covered by the signature. `body` is the exact text sent, which is why `serialize_body` exists: the
client must sign the same bytes it puts on the wire, and the verifier signs the raw bytes it received
(never a re-serialization of the parsed JSON).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

POLY_ADDRESS = "POLY_ADDRESS"
POLY_API_KEY = "POLY_API_KEY"
POLY_PASSPHRASE = "POLY_PASSPHRASE"
POLY_SIGNATURE = "POLY_SIGNATURE"
POLY_TIMESTAMP = "POLY_TIMESTAMP"

_secret_cache: dict[str, bytes] = {}


def _secret_bytes(secret: str) -> bytes:
    """Decode a base64url API secret (padding optional, as the SDKs tolerate), cached per secret."""
    raw = _secret_cache.get(secret)
    if raw is None:
        if not isinstance(secret, str) or not secret:
            raise ValueError("API secret must be a non-empty base64url string")
        try:
            raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("API secret is not valid base64url") from None
        if len(_secret_cache) < 1024:
            _secret_cache[secret] = raw
    return raw


def _strip_query(path: str) -> str:
    cut = path.find("?")
    return path if cut < 0 else path[:cut]


def serialize_body(obj: Any) -> str:
    """Compact JSON as the SDKs send it (no spaces, non-ASCII kept as UTF-8). Sign and send this
    same string."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def l2_signature(
    secret: str, timestamp: int | str, method: str, request_path: str, body: str | bytes | None = None
) -> str:
    """POLY_SIGNATURE for one request. A query string on `request_path` is dropped (it is not signed);
    an empty body signs the same as no body."""
    prefix = f"{timestamp}{method.upper()}{_strip_query(request_path)}".encode()
    if body:
        prefix += body if isinstance(body, bytes) else body.encode()
    digest = hmac.new(_secret_bytes(secret), prefix, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def l2_headers(
    address: str,
    api_key: str,
    secret: str,
    passphrase: str,
    timestamp: int | str,
    method: str,
    path: str,
    body: str | bytes | None = None,
) -> dict[str, str]:
    """The five POLY_* headers of an L2 request. `address` is the signer EOA that owns the API key,
    even when orders are made by a deposit wallet, proxy or safe."""
    return {
        POLY_ADDRESS: address,
        POLY_SIGNATURE: l2_signature(secret, timestamp, method, path, body),
        POLY_TIMESTAMP: str(timestamp),
        POLY_API_KEY: api_key,
        POLY_PASSPHRASE: passphrase,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    # Plain dicts are case-sensitive; HTTP header names are not (aiohttp's CIMultiDict already is).
    lower = name.lower()
    for k, v in headers.items():
        if k.lower() == lower:
            return v
    return None


def verify_l2(
    headers: Mapping[str, str],
    secret: str,
    method: str,
    path: str,
    body: str | bytes | None,
    now_s: int,
    skew_s: int = 300,
) -> bool:
    """True if POLY_SIGNATURE is the HMAC of this request and POLY_TIMESTAMP is within `skew_s` seconds
    of `now_s`. The skew window is not documented by Polymarket; 300 s is this project's assumption.
    Matching POLY_API_KEY/POLY_PASSPHRASE/POLY_ADDRESS to the secret is the caller's lookup. The
    signature is recomputed over the timestamp text exactly as received and compared in constant time."""
    ts_text = _header(headers, POLY_TIMESTAMP)
    sig = _header(headers, POLY_SIGNATURE)
    if not ts_text or not sig or len(ts_text) > 20 or not (ts_text.isascii() and ts_text.isdigit()):
        return False
    if abs(now_s - int(ts_text)) > skew_s:
        return False
    try:
        expected = l2_signature(secret, ts_text, method, path, body)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))


__all__ = [
    "POLY_ADDRESS",
    "POLY_API_KEY",
    "POLY_PASSPHRASE",
    "POLY_SIGNATURE",
    "POLY_TIMESTAMP",
    "l2_headers",
    "l2_signature",
    "serialize_body",
    "verify_l2",
]
