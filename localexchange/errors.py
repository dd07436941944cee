"""Polymarket's error bodies and messages, verbatim (protocol notes section 7), and the exception that
carries them from the core to the HTTP layer.

The wire body is always `{"error": "<message>"}` (some add `code` / `retry_after_seconds`). Messages are
functions where Polymarket interpolates values, so the exact text lives in one place.
"""

from __future__ import annotations

from typing import Any

# --- auth ----------------------------------------------------------------------------------------
UNAUTHORIZED = "Unauthorized/Invalid api key"
INVALID_L1 = "Invalid L1 Request headers"
CANNOT_CREATE_KEY = "Could not create api key"
CANNOT_DERIVE_KEY = "Could not derive api key!"

# --- order intake --------------------------------------------------------------------------------
INVALID_ORDER_PAYLOAD = "Invalid order payload"
ORDER_VERSION_MISMATCH = "order_version_mismatch"
OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE = "invalid signature"
DEPOSIT_WALLET_ONLY = "maker address not allowed, please use the deposit wallet flow"
POST_ONLY_CROSSES = "invalid post-only order: order crosses book"
POST_ONLY_TYPE = "invalid post-only order type: post-only is only allowed with GTC or GTD"
INVALID_EXPIRATION = "invalid expiration"
FOK_NOT_FILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_NOT_FILLED = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
MARKET_NOT_READY = "the market is not yet ready to process new orders"
MARKET_NOT_FOUND = "market not found"
TRADING_DISABLED = "Trading is currently disabled. Check polymarket.com for updates"
CANCEL_ONLY = "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
POST_ONLY_MODE = "post-only mode: only post-only orders and cancels are allowed"
INTERNAL = "Internal server error"

# --- cancels / queries / market data ---------------------------------------------------------------
NOT_CANCELED_REASON = "already canceled or matched"
ORDER_NOT_FOUND_REASON = "order not found"
INVALID_ORDER_ID = "Invalid orderID"
NO_ORDERBOOK = "No orderbook exists for the requested token id"
INVALID_TOKEN = "Invalid token id"
INVALID_SIDE = "Invalid side"
INVALID_PAYLOAD = "Invalid payload"
PAYLOAD_LIMIT = "Payload exceeds the limit"
INVALID_MARKET = "Invalid market"
INVALID_ASSET_TYPE = "Invalid asset type"
INVALID_SIGNATURE_TYPE = "Invalid signature_type"
INVALID_HEARTBEAT = "Invalid Heartbeat ID"
TOO_MANY_REQUESTS = "Too Many Requests"


def tick_rule(order_id: str, price: str, tick: str) -> str:
    return f"order {order_id} is invalid. Price ({price}) breaks minimum tick size rule: {tick}"


def min_size(order_id: str, size: str, minimum: str) -> str:
    return f"order {order_id} is invalid. Size ({size}) lower than the minimum: {minimum}"


def duplicated(order_id: str) -> str:
    return f"order {order_id} is invalid. Duplicated."


def not_enough_balance(balance: int, amount: int) -> str:
    return (
        "not enough balance / allowance: the balance is not enough -> "
        f"balance: {balance}, order amount: {amount}"
    )


def marketable_buy_min(amount: str) -> str:
    return f"invalid amount for a marketable BUY order (${amount}), min size: 1"


def too_many_orders(n: int, limit: int) -> str:
    return f"Too many orders in payload: {n}, max allowed: {limit}"


def too_many_cancels(limit: int) -> str:
    return f"Too many orders in payload, max allowed: {limit}"


class ExchangeError(Exception):
    """A refusal with Polymarket's status code and body. `body` is the JSON object sent on the wire."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body: dict[str, Any] = {"error": message, **extra}


def bad_request(message: str, **extra: Any) -> ExchangeError:
    return ExchangeError(400, message, **extra)
