"""The stock path: a V2 order as standard EIP-712 JSON, hashed and signed by eth_account.

This is what wallets and the official SDK do (~1 ms an order). It is kept as the independent reference
the fast signer in engine/venues/polymarket/clob/signing.py is tested against (tests/test_clob_signing.py)
and benchmarked against (bench/sign.py); nothing on a trading path uses it.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from engine.venues.polymarket.clob.signing import OrderV2

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
ORDER_FIELDS = [
    {"name": "salt", "type": "uint256"},
    {"name": "maker", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "makerAmount", "type": "uint256"},
    {"name": "takerAmount", "type": "uint256"},
    {"name": "side", "type": "uint8"},
    {"name": "signatureType", "type": "uint8"},
    {"name": "timestamp", "type": "uint256"},
    {"name": "metadata", "type": "bytes32"},
    {"name": "builder", "type": "bytes32"},
]


def typed_data(order: OrderV2, *, version: str, contract: str, chain_id: int) -> dict[str, Any]:
    """The order in the standard EIP-712 JSON form."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Order": ORDER_FIELDS},
        "primaryType": "Order",
        "domain": {
            "name": "Polymarket CTF Exchange",
            "version": version,
            "chainId": chain_id,
            "verifyingContract": contract,
        },
        "message": {
            "salt": order.salt,
            "maker": order.maker,
            "signer": order.signer,
            "tokenId": order.token_id,
            "makerAmount": order.maker_amount,
            "takerAmount": order.taker_amount,
            "side": order.side,
            "signatureType": order.signature_type,
            "timestamp": order.timestamp,
            "metadata": order.metadata,
            "builder": order.builder,
        },
    }


def stock_sign(
    order: OrderV2, private_key: bytes | str, *, version: str, contract: str, chain_id: int
) -> bytes:
    """eth_account's signature (r || s || v) of the order under the given exchange domain."""
    signable = encode_typed_data(
        full_message=typed_data(order, version=version, contract=contract, chain_id=chain_id)
    )
    return bytes(Account.sign_message(signable, private_key).signature)
