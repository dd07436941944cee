"""POST /order and /orders bodies -> `NewOrder`: payload shape, V1 detection, owner and signer binding, and
the EIP-712 signature against the exchange domain of the order's market (neg-risk aware). The orderID is
the order's EIP-712 digest, as on Polymarket.
"""

from __future__ import annotations

from typing import Any

from engine.venues.polymarket.clob.signing import (
    POLY_1271,
    OrderFormatError,
    OrderV2,
    is_v1_shaped,
    order_digest,
    recover_order_signer,
)

from . import errors as E
from .core import ApiCreds, Exchange, NewOrder

ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
_RESERVED_MASK = (1 << 64) - 1


def _expiration(wire: dict[str, Any]) -> int:
    raw = wire.get("expiration", "0")
    if isinstance(raw, bool):
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit():
        value = int(raw)
    else:
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    return value


def parse_post_order(item: Any, creds: ApiCreds, exchange: Exchange) -> NewOrder:
    """Validate one PostOrder object; raises ExchangeError with Polymarket's message."""
    if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    wire: dict[str, Any] = item["order"]
    if is_v1_shaped(wire):
        raise E.bad_request(E.ORDER_VERSION_MISMATCH)
    if item.get("owner") != creds.key:
        raise E.bad_request(E.OWNER_MISMATCH)
    order_type = item.get("orderType", "GTC")
    post_only = item.get("postOnly", False)
    defer_exec = item.get("deferExec", False)
    if order_type not in ORDER_TYPES or not isinstance(post_only, bool) or not isinstance(defer_exec, bool):
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    signature = wire.get("signature")
    if not isinstance(signature, str) or not signature.startswith("0x"):
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    try:
        order = OrderV2.from_json(wire)
    except OrderFormatError:
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD) from None
    expiration = _expiration(wire)
    if order.maker_amount <= 0 or order.taker_amount <= 0:
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    token_id = str(order.token_id)
    market = exchange.market_of(token_id)
    if market is None:
        raise E.ExchangeError(404, E.MARKET_NOT_FOUND)
    # Protocol-V2 position ids (bits 40-103 clear) settle on ExchangeV3, domain version "3", as the SDK signs
    domain: dict[str, Any] = (
        {"version": "3"} if (order.token_id >> 40) & _RESERVED_MASK == 0 else {"neg_risk": market.neg_risk}
    )
    if order.signature_type != POLY_1271 and order.signer.lower() != creds.address.lower():
        raise E.bad_request(E.SIGNER_MISMATCH)
    if order.signature_type == 0 and order.maker.lower() != order.signer.lower():
        raise E.bad_request(E.INVALID_ORDER_PAYLOAD)
    try:
        recovered = recover_order_signer(order, signature, **domain)
    except ValueError:
        raise E.bad_request(E.INVALID_SIGNATURE) from None
    # Types 0-2: the EOA signs the order itself. Type 3: the key's owner signs for its deposit wallet.
    expected = creds.address if order.signature_type == POLY_1271 else order.signer
    if recovered.lower() != expected.lower():
        raise E.bad_request(E.INVALID_SIGNATURE)
    return NewOrder(
        id="0x" + order_digest(order, **domain).hex(),
        maker=order.maker,
        signer=order.signer,
        token_id=token_id,
        side="BUY" if order.side == 0 else "SELL",
        maker_amount=order.maker_amount,
        taker_amount=order.taker_amount,
        expiration=expiration,
        signature_type=order.signature_type,
        timestamp_ms=order.timestamp,
        order_type=order_type,
        post_only=post_only,
        defer_exec=defer_exec,
    )
