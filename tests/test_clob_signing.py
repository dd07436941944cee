"""CLOB V2 signing, L1/L2 auth: known-answer vectors (protocol notes §3.4), and the fast hand-rolled
EIP-712 path pinned to the stock eth_account path and to the official SDK (`polymarket` package)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak as eth_keccak
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.book import book_hash
from engine.venues.polymarket.clob import signing as sg
from engine.venues.polymarket.clob.l2auth import l2_headers, l2_signature, serialize_body, verify_l2
from engine.venues.polymarket.clob.reference import typed_data
from engine.venues.polymarket.clob.signing import (
    BUY,
    CHAIN_ID,
    CTF_EXCHANGE_V2,
    EXCHANGE_V3,
    NEG_RISK_EXCHANGE_V2,
    POLY_1271,
    POLY_1271_SIGNATURE_LEN,
    SELL,
    ZERO_BYTES32,
    OrderFormatError,
    OrderV2,
    address_of,
    build_poly_1271_signature,
    clob_auth_digest,
    exchange_domain_separator,
    is_v1_shaped,
    keccak256,
    order_digest,
    order_id,
    recover_clob_auth,
    recover_order_signer,
    recover_poly_1271,
    sign_clob_auth,
    sign_order,
    to_checksum,
)
from tests.test_book import VECTOR_HASH, VECTOR_SUMMARY

# --- §3.4 known answers ------------------------------------------------------------------------

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # hardhat #0
ADDR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TOKEN = 71321045679252212594626385532706912750332728571942532289631379312455583992563
KAT_CLOB_AUTH_SIG = (
    "0x659ed4b28ae28e0f038fdf0023c00863c9559caacb9ebc83f44eea87059a099a"
    "36f1e1dee110e7faa1c4f65d17489b2da1333ebef78bbe2116d81207b975052d1c"
)
KAT_ORDER_ID = "0xc4359d7bc5c3edf00637e55cdc717595d6bd00945e28aa39053dc076ee154050"
KAT_ORDER_SIG = (
    "0x823939c1aa99325e39ed32818a4a1c66e49013b34f1ef45520834145d2211463"
    "2acb8ee52cd9063afdf96d0b6133086a679ae1dd915071dd5c2992e0ef05ea5c1b"
)
HMAC_SECRET = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def kat_order(**over: object) -> OrderV2:
    fields: dict[str, object] = dict(
        salt=123456789,
        maker=ADDR,
        signer=ADDR,
        token_id=TOKEN,
        maker_amount=50_000_000,
        taker_amount=100_000_000,
        side=BUY,
        signature_type=0,
        timestamp=1_780_000_000_000,
        metadata=ZERO_BYTES32,
        builder=ZERO_BYTES32,
    )
    fields.update(over)
    return OrderV2(**fields)  # type: ignore[arg-type]


def test_address_of_hardhat_key() -> None:
    assert address_of(KEY) == ADDR
    assert address_of(bytes.fromhex(KEY[2:])) == ADDR
    assert address_of(KEY[2:]) == ADDR


def test_kat_l1_clob_auth_signature() -> None:
    assert sign_clob_auth(KEY, 1_700_000_000, 0) == KAT_CLOB_AUTH_SIG
    assert sign_clob_auth(KEY, "1700000000") == KAT_CLOB_AUTH_SIG  # the header text signs the same
    assert recover_clob_auth(ADDR, "1700000000", 0, KAT_CLOB_AUTH_SIG) == ADDR
    # Another timestamp is another message: the signature recovers to some other address.
    assert recover_clob_auth(ADDR, 1_700_000_001, 0, KAT_CLOB_AUTH_SIG) != ADDR


def test_kat_hmac_delete_with_body() -> None:
    body = serialize_body({"orderID": "0xabc"})
    assert body == '{"orderID":"0xabc"}'
    assert l2_signature(HMAC_SECRET, 1_700_000_000, "DELETE", "/order", body) == (
        "xA4B3H5xUj3X1exZ22TKgAwri97fpQmxMgCHgs9eJDY="
    )


def test_kat_hmac_get_without_body_and_query_is_not_signed() -> None:
    want = "Xk7ucqyxdXt4Rya-du9c6i0l0gqjxKd7WbJMhIZ0N4s="
    assert l2_signature(HMAC_SECRET, 1_700_000_000, "GET", "/data/orders") == want
    assert l2_signature(HMAC_SECRET, "1700000000", "GET", "/data/orders?next_cursor=MA==") == want
    assert l2_signature(HMAC_SECRET, 1_700_000_000, "GET", "/data/orders", "") == want


def test_kat_v2_order_digest_is_order_id_and_signature() -> None:
    order = kat_order()
    assert "0x" + order_digest(order).hex() == KAT_ORDER_ID
    assert order_id(order) == KAT_ORDER_ID
    assert sign_order(order, KEY) == KAT_ORDER_SIG
    assert recover_order_signer(order, KAT_ORDER_SIG) == ADDR


def test_kat_orderbook_hash_matches_engine_book_hash() -> None:
    # §6.1 vector (py-clob-client-v2 tests), kept with the book's own hash tests in tests/test_book.py.
    assert VECTOR_HASH == "0458ea5755c9f73d64a14636fa5c36ed460ec394"
    assert book_hash(VECTOR_SUMMARY) == "0458ea5755c9f73d64a14636fa5c36ed460ec394"


def test_expiration_is_not_signed_and_timestamp_is() -> None:
    order = kat_order()
    a, b = order.to_json(KAT_ORDER_SIG, expiration=0), order.to_json(KAT_ORDER_SIG, expiration=1_790_000_000)
    assert order_id(OrderV2.from_json(a)) == order_id(OrderV2.from_json(b)) == KAT_ORDER_ID
    assert order_id(kat_order(timestamp=1_780_000_000_001)) != KAT_ORDER_ID


# --- wire shape --------------------------------------------------------------------------------


def test_to_json_matches_the_sdk_post_body() -> None:
    from polymarket._internal.actions.orders.post import build_post_order_request
    from polymarket.models.clob.orders import SignedOrder

    order = kat_order()
    sdk_order = SignedOrder(
        builder=ZERO_BYTES32,
        expiration=0,
        maker=ADDR,
        maker_amount=50_000_000,
        metadata=ZERO_BYTES32,
        order_type="GTC",
        salt=123456789,
        side="BUY",
        signature=KAT_ORDER_SIG,
        signature_type=0,
        signer=ADDR,
        taker_amount=100_000_000,
        timestamp=1_780_000_000_000,
        token_id=str(TOKEN),
    )
    _, payload = build_post_order_request(sdk_order, owner_api_key="k")
    ours = order.to_json(KAT_ORDER_SIG)
    assert ours == payload["order"]
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in payload["order"].items()}
    # §4.3 types: salt and signatureType are numbers, the rest strings.
    assert isinstance(ours["salt"], int) and isinstance(ours["signatureType"], int)
    assert ours["tokenId"] == str(TOKEN) and ours["side"] == "BUY" and ours["expiration"] == "0"


def test_from_json_round_trip_and_lenient_numbers() -> None:
    order = kat_order(side=SELL, signature_type=2, builder="0x" + "ab" * 32)
    wire = order.to_json("0x00")
    assert OrderV2.from_json(wire) == order
    wire.update(salt="123456789", signatureType="2", tokenId=TOKEN, makerAmount=50_000_000)
    wire["maker"] = wire["maker"].lower()
    assert OrderV2.from_json(wire) == order  # addresses normalised to EIP-55


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("side", "buy", 'order.side must be "BUY" or "SELL"'),
        ("side", 0, 'order.side must be "BUY" or "SELL"'),
        ("signatureType", 4, "order.signatureType must be 0 (EOA)"),
        ("signatureType", True, "order.signatureType must be an unsigned integer"),
        ("makerAmount", "-5", "order.makerAmount must be a decimal string of digits"),
        ("makerAmount", "1.5", "order.makerAmount must be a decimal string of digits"),
        ("takerAmount", 2**256, "order.takerAmount must be in [0, 2^256)"),
        ("takerAmount", "9" * 5000, "order.takerAmount must be in [0, 2^256), got a 5000-digit number"),
        ("salt", 1.0, "order.salt must be an unsigned integer"),
        ("maker", "0x1234", "order.maker must be a 0x-prefixed 20-byte hex address"),
        ("metadata", "0x00", "order.metadata must be 0x + 64 hex digits"),
        ("builder", None, "order.builder must be 0x + 64 hex digits"),
    ],
)
def test_from_json_rejects_with_field_name(field: str, value: object, message: str) -> None:
    wire = kat_order().to_json(KAT_ORDER_SIG)
    wire[field] = value
    with pytest.raises(OrderFormatError, match=re.escape(message)):
        OrderV2.from_json(wire)


@pytest.mark.parametrize("field", ["timestamp", "metadata", "builder", "side", "salt", "signer"])
def test_from_json_missing_field(field: str) -> None:
    wire = kat_order().to_json(KAT_ORDER_SIG)
    del wire[field]
    with pytest.raises(OrderFormatError, match=f"order.{field} is missing"):
        OrderV2.from_json(wire)


def test_is_v1_shaped() -> None:
    v2 = kat_order().to_json(KAT_ORDER_SIG)
    assert not is_v1_shaped(v2)
    for extra in ("nonce", "feeRateBps", "taker"):
        assert is_v1_shaped({**v2, extra: "0"})
    for missing in ("timestamp", "metadata", "builder"):
        assert is_v1_shaped({k: v for k, v in v2.items() if k != missing})


# --- domains -----------------------------------------------------------------------------------


def _stock_domain(version: str, contract: str, chain_id: int = CHAIN_ID) -> bytes:
    td = _stock_typed_data(kat_order(), version, contract, chain_id)
    return encode_typed_data(full_message=td).header


def test_domain_separators_match_stock_and_defaults() -> None:
    assert exchange_domain_separator() == _stock_domain("2", CTF_EXCHANGE_V2)
    assert exchange_domain_separator(neg_risk=True) == _stock_domain("2", NEG_RISK_EXCHANGE_V2)
    assert exchange_domain_separator(version="3") == _stock_domain("3", EXCHANGE_V3)
    assert exchange_domain_separator(version="3", neg_risk=True) == _stock_domain("3", EXCHANGE_V3)
    other = "0x" + "11" * 20
    assert exchange_domain_separator(version="1", verifying_contract=other, chain_id=80002) == _stock_domain(
        "1", to_checksum(other), 80002
    )
    with pytest.raises(ValueError, match='version must be "2" or "3"'):
        exchange_domain_separator(version="1")


def test_constants_are_checksummed() -> None:
    for addr in (CTF_EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, EXCHANGE_V3):
        assert to_checksum(addr) == addr == to_checksum_address(addr)


@given(st.binary(min_size=20, max_size=20))
@settings(max_examples=200, deadline=None)
def test_to_checksum_matches_eth_utils(raw: bytes) -> None:
    addr = "0x" + raw.hex()
    assert to_checksum(addr) == to_checksum_address(addr)
    assert to_checksum(addr.upper().replace("0X", "0x")) == to_checksum_address(addr)


def test_keccak256_is_ethereum_keccak() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc") == eth_keccak(b"abc")
    assert keccak256(bytearray(b"abc")) == keccak256(memoryview(b"abc")) == eth_keccak(b"abc")
    assert keccak256 is not sg._keccak256_portable  # the fast C path loaded (pycryptodome is pinned)


@given(st.binary(max_size=1000))
@settings(max_examples=200, deadline=None)
def test_fast_keccak_equals_portable(data: bytes) -> None:
    assert keccak256(data) == sg._keccak256_portable(data) == eth_keccak(data)


def test_fast_keccak_is_per_thread() -> None:
    inputs = [bytes([i]) * (i * 7) for i in range(64)]
    want = [eth_keccak(d) for d in inputs]

    def work(_: int) -> bool:
        return all(keccak256(d) == w for _ in range(200) for d, w in zip(inputs, want, strict=True))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


# --- property tests against eth_account (the stock path) ---------------------------------------

uint256 = st.integers(min_value=0, max_value=2**256 - 1)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address("0x" + b.hex()))
bytes32 = st.one_of(st.just(ZERO_BYTES32), st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()))
keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


@st.composite
def orders(draw: st.DrawFn, sig_types: tuple[int, ...] = (0, 1, 2)) -> OrderV2:
    return OrderV2(
        salt=draw(st.one_of(st.integers(0, 2**53), uint256)),
        maker=draw(addresses),
        signer=draw(addresses),
        token_id=draw(uint256),
        maker_amount=draw(st.one_of(st.integers(1, 10**12), uint256)),
        taker_amount=draw(st.one_of(st.integers(1, 10**12), uint256)),
        side=draw(st.sampled_from((BUY, SELL))),
        signature_type=draw(st.sampled_from(sig_types)),
        timestamp=draw(st.one_of(st.integers(1_700_000_000_000, 1_900_000_000_000), uint256)),
        metadata=draw(bytes32),
        builder=draw(bytes32),
    )


domains = st.sampled_from(
    [
        {"neg_risk": False, "version": "2"},
        {"neg_risk": True, "version": "2"},
        {"neg_risk": False, "version": "3"},
        {"neg_risk": True, "version": "3"},
    ]
)


def _contract(domain: dict[str, object]) -> str:
    if domain["version"] == "3":
        return EXCHANGE_V3
    return NEG_RISK_EXCHANGE_V2 if domain["neg_risk"] else CTF_EXCHANGE_V2


def _stock_typed_data(order: OrderV2, version: str, contract: str, chain_id: int = CHAIN_ID) -> dict:
    return typed_data(order, version=version, contract=contract, chain_id=chain_id)


def _hex(sig: bytes) -> str:
    h = sig.hex()
    return h if h.startswith("0x") else "0x" + h


@given(orders(), keys, domains)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_digest_and_signature_equal_eth_account(order: OrderV2, key: bytes, domain: dict) -> None:
    signable = encode_typed_data(full_message=_stock_typed_data(order, domain["version"], _contract(domain)))
    stock = Account.sign_message(signable, key)
    assert order_digest(order, **domain) == bytes(stock.message_hash)
    sig = sign_order(order, key, **domain)
    assert sig == _hex(stock.signature)
    assert recover_order_signer(order, sig, **domain) == address_of(key) == Account.from_key(key).address


@given(orders(), keys, domains)
@settings(max_examples=60, deadline=None)
def test_sign_recover_round_trip(order: OrderV2, key: bytes, domain: dict) -> None:
    sig = sign_order(order, key, **domain)
    raw = bytes.fromhex(sig[2:])
    assert len(raw) == 65 and raw[64] in (27, 28)
    assert int.from_bytes(raw[32:64], "big") <= SECP256K1_N // 2  # low-s
    assert recover_order_signer(order, sig, **domain) == address_of(key)
    # The same signature under the other exchange's domain belongs to somebody else.
    other = (
        {"neg_risk": not domain["neg_risk"], "version": "2"} if domain["version"] == "2" else {"version": "2"}
    )
    assert recover_order_signer(order, sig, **other) != address_of(key)


@given(
    keys,
    st.one_of(st.integers(0, 2**40), st.text("0123456789", min_size=1, max_size=12)),
    st.integers(0, 2**64),
)
@settings(max_examples=30, deadline=None)
def test_clob_auth_equals_sdk_typed_data(key: bytes, ts: int | str, nonce: int) -> None:
    from polymarket._internal.l1_auth import build_api_key_auth_typed_data

    acct = Account.from_key(key)
    td = build_api_key_auth_typed_data(address=acct.address, chain_id=CHAIN_ID, timestamp=ts, nonce=nonce)  # type: ignore[arg-type]
    stock = acct.sign_typed_data(full_message=td)
    assert clob_auth_digest(acct.address, ts, nonce) == bytes(stock.message_hash)
    sig = sign_clob_auth(key, ts, nonce)
    assert sig == _hex(stock.signature)
    assert recover_clob_auth(acct.address, ts, nonce, sig) == acct.address


# --- POLY_1271 (deposit wallet) against the official SDK ---------------------------------------


def _sdk_poly_1271(order: OrderV2, key: bytes, version: str, contract: str) -> tuple[str, bytes]:
    from polymarket._internal.actions.orders.typed_data import build_order_signature, build_order_typed_data
    from polymarket._internal.actions.orders.types import UnsignedOrder

    unsigned = UnsignedOrder(
        chain_id=CHAIN_ID,
        builder=order.builder,
        exchange_address=contract,
        expiration=0,
        maker=order.maker,
        maker_amount=order.maker_amount,
        metadata=order.metadata,
        order_type="GTC",
        salt=order.salt,
        side="BUY" if order.side == BUY else "SELL",
        signature_type=order.signature_type,
        signer=order.signer,
        taker_amount=order.taker_amount,
        timestamp=order.timestamp,
        token_id=str(order.token_id),
        protocol_version=version,  # type: ignore[arg-type]
    )
    signed = Account.from_key(key).sign_typed_data(full_message=build_order_typed_data(unsigned))
    return build_order_signature(unsigned, _hex(signed.signature)), bytes(signed.message_hash)  # type: ignore[arg-type]


def test_poly_1271_known_order_matches_sdk() -> None:
    wallet = "0x" + "5a" * 20
    order = kat_order(signature_type=POLY_1271, maker=to_checksum(wallet), signer=to_checksum(wallet))
    sdk_sig, _ = _sdk_poly_1271(order, bytes.fromhex(KEY[2:]), "2", CTF_EXCHANGE_V2)
    ours = sign_order(order, KEY)
    assert ours == sdk_sig
    assert len(bytes.fromhex(ours[2:])) == POLY_1271_SIGNATURE_LEN == 317
    assert recover_order_signer(order, ours) == ADDR
    assert recover_poly_1271(order, ours, order.signer) == ADDR
    # The orderID is the plain order digest whatever the signature type.
    assert order_id(order) == "0x" + order_digest(order).hex()


@given(orders(sig_types=(POLY_1271,)), keys, domains)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_poly_1271_matches_sdk(order: OrderV2, key: bytes, domain: dict) -> None:
    sdk_sig, _ = _sdk_poly_1271(order, key, domain["version"], _contract(domain))
    ours = build_poly_1271_signature(order, key, order.signer, **domain)
    assert ours == sdk_sig
    assert recover_poly_1271(order, ours, order.signer, **domain) == address_of(key)


def _poly_1271_fixture() -> tuple[OrderV2, bytes, str]:
    wallet = to_checksum("0x" + "5a" * 20)
    order = kat_order(signature_type=POLY_1271, maker=wallet, signer=wallet)
    return order, bytes.fromhex(sign_order(order, KEY)[2:]), wallet


def test_poly_1271_rejects_tampered_pieces() -> None:
    order, raw, wallet = _poly_1271_fixture()
    with pytest.raises(ValueError, match="app domain separator"):
        recover_poly_1271(order, raw, wallet, neg_risk=True)
    with pytest.raises(ValueError, match="contents hash does not match"):
        recover_poly_1271(
            kat_order(signature_type=POLY_1271, maker=wallet, signer=wallet, salt=1), raw, wallet
        )
    bad_type = raw[:129] + b"X" + raw[130:]
    with pytest.raises(ValueError, match="contents type is not the V2 Order type"):
        recover_poly_1271(order, bad_type, wallet)
    with pytest.raises(ValueError, match="does not match its contents-type length"):
        recover_poly_1271(order, raw[:-2] + (185).to_bytes(2, "big"), wallet)
    with pytest.raises(ValueError, match="must be 317 bytes, got 65"):
        recover_poly_1271(order, raw[:65], wallet)
    # Bound to the wallet: the same signature checked for another wallet recovers someone else.
    assert recover_poly_1271(order, raw, "0x" + "77" * 20) != ADDR
    # A plain 65-byte order signature is not a POLY_1271 signature.
    with pytest.raises(ValueError, match="317"):
        recover_order_signer(order, sign_order(kat_order(), KEY))


# --- malformed input ---------------------------------------------------------------------------


def test_malformed_signatures_rejected() -> None:
    order = kat_order()
    raw = bytes.fromhex(KAT_ORDER_SIG[2:])
    with pytest.raises(ValueError, match="must be 65 bytes"):
        recover_order_signer(order, raw[:64])
    with pytest.raises(ValueError, match="must be 65 bytes"):
        recover_order_signer(order, raw + b"\x00")
    with pytest.raises(ValueError, match="v must be 27 or 28, got 0"):
        recover_order_signer(order, raw[:64] + b"\x00")
    with pytest.raises(ValueError, match="not valid hex"):
        recover_order_signer(order, "0xzz" + KAT_ORDER_SIG[4:])
    # High-s twin (s' = n - s, v flipped) recovers the same key mathematically; the exchange's
    # ECDSA.recover refuses it, and so do we.
    s = int.from_bytes(raw[32:64], "big")
    twin = raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - raw[64],))
    with pytest.raises(ValueError, match="upper half"):
        recover_order_signer(order, twin)
    with pytest.raises(ValueError, match="r is out of range"):
        recover_order_signer(order, bytes(32) + raw[32:])


def test_malformed_orders_and_keys_rejected() -> None:
    with pytest.raises(OrderFormatError, match="maker_amount must be an int in"):
        order_digest(kat_order(maker_amount=-1))
    with pytest.raises(OrderFormatError, match="side must be 0 \\(BUY\\) or 1 \\(SELL\\)"):
        order_digest(kat_order(side=2))
    with pytest.raises(OrderFormatError, match="signature_type must be one of"):
        order_digest(kat_order(signature_type=7))
    with pytest.raises(OrderFormatError, match="signer must be a 0x-prefixed"):
        order_digest(kat_order(signer="0xabc"))
    with pytest.raises(OrderFormatError, match="builder must be 0x \\+ 64 hex"):
        order_digest(kat_order(builder="0x1"))
    with pytest.raises(ValueError, match="private key must be 32 bytes"):
        sign_order(kat_order(), b"\x01" * 31)
    with pytest.raises(ValueError, match="out of range"):
        sign_order(kat_order(), b"\x00" * 32)
    with pytest.raises(ValueError, match="64 hex digits"):
        sign_order(kat_order(), "0xnothex")
    with pytest.raises(ValueError, match="20-byte hex address"):
        to_checksum("0x123")
    with pytest.raises(TypeError):
        sign_order(kat_order(), KEY, negrisk=True)


# --- L2 ---------------------------------------------------------------------------------------


def _sdk_hmac(secret: str, ts: int, method: str, path: str, body: str | None) -> str:
    from polymarket._internal.hmac import build_hmac_signature

    return build_hmac_signature(secret=secret, timestamp=ts, method=method, path=path, body=body)


@given(
    st.binary(min_size=1, max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.integers(0, 2**33),
    st.sampled_from(["GET", "POST", "DELETE"]),
    st.sampled_from(["/order", "/orders", "/data/orders", "/auth/api-keys", "/v1/heartbeats"]),
    st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=12), st.integers()), max_size=4),
    ),
)
@settings(max_examples=150, deadline=None)
def test_l2_signature_equals_sdk_and_verifies(
    secret: str, ts: int, method: str, path: str, obj: dict | None
) -> None:
    body = None if obj is None else serialize_body(obj)
    sig = l2_signature(secret, ts, method, path, body)
    assert sig == _sdk_hmac(secret, ts, method, path, body)
    assert sig == l2_signature(
        secret.rstrip("="), ts, method, path + "?a=1", None if body is None else body.encode()
    )
    headers = l2_headers(ADDR, "key", secret, "pass", ts, method, path, body)
    assert verify_l2(headers, secret, method, path, body, now_s=ts)


def test_l2_headers_and_verification_failures() -> None:
    body = serialize_body({"orderID": "0xabc"})
    h = l2_headers(ADDR, "api-key", HMAC_SECRET, "pp", 1_700_000_000, "DELETE", "/order", body)
    assert h == {
        "POLY_ADDRESS": ADDR,
        "POLY_SIGNATURE": "xA4B3H5xUj3X1exZ22TKgAwri97fpQmxMgCHgs9eJDY=",
        "POLY_TIMESTAMP": "1700000000",
        "POLY_API_KEY": "api-key",
        "POLY_PASSPHRASE": "pp",
    }
    now = 1_700_000_000
    assert verify_l2(h, HMAC_SECRET, "DELETE", "/order", body, now_s=now + 300)
    assert verify_l2(
        {k.lower(): v for k, v in h.items()}, HMAC_SECRET, "DELETE", "/order", body.encode(), now_s=now
    )
    assert not verify_l2(h, HMAC_SECRET, "DELETE", "/order", body, now_s=now + 301)  # stale
    assert not verify_l2(h, HMAC_SECRET, "DELETE", "/order", body, now_s=now - 301)  # from the future
    assert not verify_l2(h, HMAC_SECRET, "DELETE", "/order", body + " ", now_s=now)  # body changed
    assert not verify_l2(h, HMAC_SECRET, "POST", "/order", body, now_s=now)
    assert not verify_l2(h, "c2VjcmV0", "DELETE", "/order", body, now_s=now)
    assert not verify_l2({**h, "POLY_TIMESTAMP": "17e8"}, HMAC_SECRET, "DELETE", "/order", body, now_s=now)
    assert not verify_l2(
        {**h, "POLY_TIMESTAMP": "1" * 5000}, HMAC_SECRET, "DELETE", "/order", body, now_s=now
    )
    assert not verify_l2({**h, "POLY_SIGNATURE": "é"}, HMAC_SECRET, "DELETE", "/order", body, now_s=now)
    assert not verify_l2({"POLY_TIMESTAMP": "1700000000"}, HMAC_SECRET, "DELETE", "/order", body, now_s=now)
    assert not verify_l2(h, "!!not base64!!", "DELETE", "/order", body, now_s=now)


def test_serialize_body_is_compact_utf8() -> None:
    assert serialize_body({"a": [1, 2], "b": "né"}) == '{"a":[1,2],"b":"né"}'
    raw = serialize_body({"b": "né"}).encode()
    expected = hmac.new(
        base64.urlsafe_b64decode(HMAC_SECRET), b'1POST/x{"b":"n\xc3\xa9"}', hashlib.sha256
    ).digest()
    assert l2_signature(HMAC_SECRET, 1, "POST", "/x", raw) == base64.urlsafe_b64encode(expected).decode()
