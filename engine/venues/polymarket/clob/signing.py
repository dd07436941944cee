"""EIP-712 signing and recovery for Polymarket CLOB V2 orders and L1 (ClobAuth) headers.

Why hand-rolled: the stock path (`eth_account.messages.encode_typed_data` + `Account.sign_message`)
walks a JSON-like typed-data dict, re-derives the type strings and ABI-encodes every field through
eth_abi on every call, which costs a few milliseconds per order. Every struct signed here has a fixed
shape made only of static 32-byte words (uint256, uint8, address, bytes32) plus hashed strings, so
its encoding is a byte concatenation. Type hashes and domain separators are computed once; the hot
path is two keccaks and one libsecp256k1 signature. Tests pin the results to eth_account and to the
official SDK (`polymarket-client`) so the shortcut cannot drift from the standard.

What is signed (CLOB V2, since the 2026-04-28 cutover):

    Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
          uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,
          bytes32 builder)

under the domain {name "Polymarket CTF Exchange", version "2", chainId 137, verifyingContract = the
CTF exchange, or the neg-risk exchange for neg-risk markets}; Protocol-V2 position tokens use version
"3" and ExchangeV3. V1's `taker`, `nonce`, `feeRateBps` and `expiration` are gone from the struct:
fees are set by the operator at match time, on-chain nonce cancels were replaced by operator pauses,
and `expiration` is enforced off-chain by the CLOB (GTD), so it travels in the JSON body only and
changing it does not change the orderID. The `timestamp` (ms) is what makes two otherwise identical
orders distinct, alongside the salt.

The EIP-712 digest of the order is its orderID ("0x" + 64 hex), whatever the signature type: the
exchange contract hashes the order the same way before checking the signature.

Signature types: 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE sign the order digest directly with the EOA
key. 3 POLY_1271 (deposit wallet) makes `signer` the smart wallet; the EOA signs an ERC-7739
`TypedDataSign` envelope around the order, and the wire signature carries what the wallet needs to
rebuild it (see `build_poly_1271_signature`).
"""

from __future__ import annotations

import ctypes
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import coincurve
from Crypto.Hash import keccak as _keccak

# --- constants --------------------------------------------------------------------------------

CHAIN_ID = 137
CTF_EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"  # Protocol-V2 position tokens, domain "3"
ZERO_BYTES32 = "0x" + "00" * 32

BUY = 0
SELL = 1

EOA = 0
POLY_PROXY = 1
POLY_GNOSIS_SAFE = 2
POLY_1271 = 3
SIGNATURE_TYPES = (EOA, POLY_PROXY, POLY_GNOSIS_SAFE, POLY_1271)

EXCHANGE_NAME = "Polymarket CTF Exchange"
ORDER_TYPE_STRING = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
DOMAIN_TYPE_STRING = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
# ERC-7739 nested typed data: the envelope type lists its own fields, then the referenced Order type.
TYPED_DATA_SIGN_TYPE_STRING = (
    "TypedDataSign(Order contents,string name,string version,uint256 chainId,"
    "address verifyingContract,bytes32 salt)" + ORDER_TYPE_STRING
)
DEPOSIT_WALLET_NAME = "DepositWallet"
DEPOSIT_WALLET_VERSION = "1"

CLOB_AUTH_DOMAIN_TYPE_STRING = "EIP712Domain(string name,string version,uint256 chainId)"
CLOB_AUTH_TYPE_STRING = "ClobAuth(address address,string timestamp,uint256 nonce,string message)"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _SECP256K1_N // 2
_UINT256_MAX = (1 << 256) - 1
_ORDER_TYPE_BYTES = ORDER_TYPE_STRING.encode()
POLY_1271_SIGNATURE_LEN = 65 + 32 + 32 + len(_ORDER_TYPE_BYTES) + 2  # 317


def _keccak256_portable(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


def _fast_keccak256() -> Callable[[bytes], bytes] | None:
    """Keccak-256 straight from pycryptodome's C library with a reused per-thread state.

    `keccak.new(...).digest()` spends most of its ~7 us in Python: a fresh state allocation and three
    ctypes calls whose arguments are converted without prototypes. Declaring the prototypes once and
    resetting one state per thread halves that; keccak is a third of the cost of signing an order.
    The C functions are private to pycryptodome (pinned in pyproject), so this is checked against the
    public API at import and falls back to it if anything differs."""
    try:
        from Crypto.Hash.keccak import _raw_keccak_lib

        lib = ctypes.CDLL(_raw_keccak_lib._name)
        init, destroy, reset = lib.keccak_init, lib.keccak_destroy, lib.keccak_reset
        absorb, squeeze = lib.keccak_absorb, lib.keccak_digest
        init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_uint8]
        destroy.argtypes = [ctypes.c_void_p]
        reset.argtypes = [ctypes.c_void_p]
        absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        squeeze.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint8]
    except Exception:
        return None

    class _State:
        __slots__ = ("out", "outp", "state", "__weakref__")

        def __init__(self) -> None:
            ptr = ctypes.c_void_p()
            if init(ctypes.byref(ptr), 64, 24):  # capacity 512 bits (Keccak-256), 24 rounds
                raise RuntimeError("keccak_init failed")
            self.state = ptr.value
            self.out = ctypes.create_string_buffer(32)
            self.outp = ctypes.addressof(self.out)
            weakref.finalize(self, destroy, self.state)

    local = threading.local()

    def keccak256(data: bytes) -> bytes:
        try:
            st = local.st
        except AttributeError:
            st = local.st = _State()
        if type(data) is not bytes:
            data = bytes(data)
        state = st.state
        # 0x01 is Keccak's original padding (SHA-3 uses 0x06). Non-zero return codes mean bad args.
        if reset(state) or absorb(state, data, len(data)) or squeeze(state, st.outp, 32, 1):
            raise RuntimeError("keccak failed")
        return st.out.raw

    probe = bytes(range(256)) * 3
    try:
        if all(keccak256(probe[:n]) == _keccak256_portable(probe[:n]) for n in (0, 1, 135, 136, 137, 500)):
            return keccak256
    except Exception:  # noqa: BLE001 - any surprise in the private entry point means: use the public one
        return None
    return None


keccak256: Callable[[bytes], bytes] = _fast_keccak256() or _keccak256_portable
keccak256.__doc__ = "Ethereum's Keccak-256 (the original Keccak padding, not hashlib.sha3_256)."


_ORDER_TYPEHASH = keccak256(_ORDER_TYPE_BYTES)
_DOMAIN_TYPEHASH = keccak256(DOMAIN_TYPE_STRING.encode())
_EXCHANGE_NAME_HASH = keccak256(EXCHANGE_NAME.encode())
_TYPED_DATA_SIGN_TYPEHASH = keccak256(TYPED_DATA_SIGN_TYPE_STRING.encode())
_DEPOSIT_WALLET_NAME_HASH = keccak256(DEPOSIT_WALLET_NAME.encode())
_DEPOSIT_WALLET_VERSION_HASH = keccak256(DEPOSIT_WALLET_VERSION.encode())
_CLOB_AUTH_DOMAIN_TYPEHASH = keccak256(CLOB_AUTH_DOMAIN_TYPE_STRING.encode())
_CLOB_AUTH_TYPEHASH = keccak256(CLOB_AUTH_TYPE_STRING.encode())
_CLOB_AUTH_MESSAGE_HASH = keccak256(CLOB_AUTH_MESSAGE.encode())
_ZERO32 = bytes(32)
_EIP712_PREFIX = b"\x19\x01"
_SIDE_WORDS = {i: i.to_bytes(32, "big") for i in (0, 1)}  # uint8 side: BUY, SELL
_SIG_TYPE_WORDS = {i: i.to_bytes(32, "big") for i in (0, 1, 2, 3)}  # uint8 signatureType

_ADDRESS_RE = re.compile(r"0[xX][0-9a-fA-F]{40}")
_BYTES32_RE = re.compile(r"0[xX][0-9a-fA-F]{64}")
_UINT_RE = re.compile(r"[0-9]+")


# --- addresses and keys -----------------------------------------------------------------------


def _check_address(addr: object, field: str = "address") -> str:
    if not isinstance(addr, str) or not _ADDRESS_RE.fullmatch(addr):
        raise ValueError(f"{field} must be a 0x-prefixed 20-byte hex address, got {addr!r}")
    return addr


@lru_cache(maxsize=4096)
def to_checksum(addr: str) -> str:
    """EIP-55 mixed-case form of a 0x address (any input case accepted; the checksum is not verified)."""
    _check_address(addr)
    low = addr[2:].lower()
    h = keccak256(low.encode()).hex()
    return "0x" + "".join(c.upper() if c > "9" and h[i] >= "8" else c for i, c in enumerate(low))


@lru_cache(maxsize=4096)
def _address_word(addr: str) -> bytes:
    """ABI word of an address: 12 zero bytes then the 20 address bytes. Cached: makers repeat."""
    _check_address(addr)
    return bytes(12) + bytes.fromhex(addr[2:])


@lru_cache(maxsize=1024)
def _bytes32_word(value: str) -> bytes:
    if not isinstance(value, str) or not _BYTES32_RE.fullmatch(value):
        raise ValueError(f"bytes32 value must be 0x + 64 hex digits, got {value!r}")
    return bytes.fromhex(value[2:])


def _private_key(private_key: bytes | str) -> coincurve.PrivateKey:
    if isinstance(private_key, bytearray):
        private_key = bytes(private_key)
    return _private_key_cached(private_key)


@lru_cache(maxsize=64)
def _private_key_cached(private_key: bytes | str) -> coincurve.PrivateKey:
    """Parse and cache a secp256k1 key: building the coincurve object costs more than a signature."""
    if isinstance(private_key, str):
        text = private_key[2:] if private_key[:2] in ("0x", "0X") else private_key
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError("private key must be 32 bytes or 64 hex digits (optional 0x)") from None
    elif isinstance(private_key, bytes):
        raw = private_key
    else:
        raise ValueError(f"private key must be bytes or a hex string, got {type(private_key).__name__}")
    if len(raw) != 32:
        raise ValueError(f"private key must be 32 bytes, got {len(raw)}")
    if not 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
        raise ValueError("private key is out of range for secp256k1")
    return coincurve.PrivateKey(raw)


def _address_from_public_key(pub: coincurve.PublicKey) -> str:
    return to_checksum("0x" + keccak256(pub.format(compressed=False)[1:])[12:].hex())


def address_of(private_key: bytes | str) -> str:
    """Checksummed Ethereum address of a private key."""
    return _address_of_key(_private_key(private_key))


@lru_cache(maxsize=64)
def _address_of_key(key: coincurve.PrivateKey) -> str:
    return _address_from_public_key(key.public_key)


# --- raw ECDSA --------------------------------------------------------------------------------


def _sign_digest(digest: bytes, private_key: bytes | str) -> bytes:
    """65 bytes r || s || v with v in {27, 28}. libsecp256k1 signs RFC 6979 and low-s, so the result is
    byte-identical to eth_account's."""
    sig = _private_key(private_key).sign_recoverable(digest, hasher=None)
    return sig[:64] + _V_BYTES[sig[64]]


_V_BYTES = (b"\x1b", b"\x1c")


def _signature_bytes(signature: str | bytes, what: str = "signature") -> bytes:
    if isinstance(signature, bytes | bytearray):
        return bytes(signature)
    if not isinstance(signature, str):
        raise ValueError(f"{what} must be a 0x hex string, got {type(signature).__name__}")
    text = signature[2:] if signature[:2] in ("0x", "0X") else signature
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{what} is not valid hex: {signature[:20]!r}...") from None


def _recover_digest(digest: bytes, sig: bytes) -> str:
    """Recover the checksummed signer of a 65-byte r||s||v signature over `digest`, with the checks
    OpenZeppelin's ECDSA.recover (used by the exchange contracts) applies: v in {27, 28}, r and s in
    range, s in the lower half of the curve order (the high-s twin is a malleated copy)."""
    if len(sig) != 65:
        raise ValueError(f"ECDSA signature must be 65 bytes (r || s || v), got {len(sig)}")
    v = sig[64]
    if v not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {v}")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not 0 < r < _SECP256K1_N:
        raise ValueError("signature r is out of range")
    if not 0 < s <= _HALF_N:
        raise ValueError("signature s is zero or in the upper half of the curve order (malleable)")
    try:
        pub = coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes((v - 27,)), digest, hasher=None)
    except Exception as exc:  # coincurve raises a bare Exception when no point recovers
        raise ValueError(f"signature does not recover to a public key: {exc}") from None
    return _address_from_public_key(pub)


# --- the order --------------------------------------------------------------------------------


class OrderFormatError(ValueError):
    """A wire order that is not a well-formed CLOB V2 order; the message names the field."""


def _wire_uint(d: dict[str, Any], key: str, *, bits: int = 256) -> int:
    if key not in d:
        raise OrderFormatError(f"order.{key} is missing")
    v = d[key]
    if isinstance(v, bool):
        raise OrderFormatError(
            f"order.{key} must be an unsigned integer (JSON number or decimal string), got {v!r}"
        )
    if isinstance(v, str):
        if not _UINT_RE.fullmatch(v):
            raise OrderFormatError(f"order.{key} must be a decimal string of digits, got {v[:90]!r}")
        if len(v) > 80:  # 2^256 has 78 digits; also keeps int() clear of its 4300-digit limit
            raise OrderFormatError(f"order.{key} must be in [0, 2^{bits}), got a {len(v)}-digit number")
        n = int(v)
    elif isinstance(v, int):
        n = v
    else:
        raise OrderFormatError(
            f"order.{key} must be an unsigned integer (JSON number or decimal string), got {v!r}"
        )
    if not 0 <= n < (1 << bits):
        raise OrderFormatError(f"order.{key} must be in [0, 2^{bits}), got {n}")
    return n


def _wire_address(d: dict[str, Any], key: str) -> str:
    if key not in d:
        raise OrderFormatError(f"order.{key} is missing")
    v = d[key]
    if not isinstance(v, str) or not _ADDRESS_RE.fullmatch(v):
        raise OrderFormatError(f"order.{key} must be a 0x-prefixed 20-byte hex address, got {v!r}")
    return to_checksum(v)


def _wire_bytes32(d: dict[str, Any], key: str) -> str:
    if key not in d:
        raise OrderFormatError(f"order.{key} is missing (V2 orders carry timestamp, metadata and builder)")
    v = d[key]
    if not isinstance(v, str) or not _BYTES32_RE.fullmatch(v):
        raise OrderFormatError(f"order.{key} must be 0x + 64 hex digits (bytes32), got {v!r}")
    return "0x" + v[2:].lower()


_SIDE_FROM_WIRE = {"BUY": BUY, "SELL": SELL}
_SIDE_TO_WIRE = ("BUY", "SELL")


@dataclass(frozen=True, slots=True)
class OrderV2:
    """The signed CLOB V2 order struct. Amounts are 1e6 base units; `timestamp` is milliseconds;
    `metadata` and `builder` are 0x bytes32 hex. `expiration` is not here: it is not signed in V2."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int
    signature_type: int
    timestamp: int
    metadata: str = ZERO_BYTES32
    builder: str = ZERO_BYTES32

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OrderV2:
        """Parse the `order` object of a POST /order body (§4.3). Numbers may be JSON numbers or
        decimal strings, as the SDKs differ; `side` is "BUY" or "SELL"."""
        if not isinstance(d, dict):
            raise OrderFormatError(f"order must be a JSON object, got {type(d).__name__}")
        if "side" not in d:
            raise OrderFormatError('order.side is missing (expected "BUY" or "SELL")')
        side_raw = d["side"]
        if not isinstance(side_raw, str) or side_raw not in _SIDE_FROM_WIRE:
            raise OrderFormatError(f'order.side must be "BUY" or "SELL", got {side_raw!r}')
        sig_type = _wire_uint(d, "signatureType", bits=8)
        if sig_type not in SIGNATURE_TYPES:
            raise OrderFormatError(
                f"order.signatureType must be 0 (EOA), 1 (POLY_PROXY), 2 (POLY_GNOSIS_SAFE) or 3 (POLY_1271), got {sig_type}"
            )
        if "timestamp" not in d:
            raise OrderFormatError(
                "order.timestamp is missing (V2 orders carry timestamp, metadata and builder)"
            )
        return cls(
            salt=_wire_uint(d, "salt"),
            maker=_wire_address(d, "maker"),
            signer=_wire_address(d, "signer"),
            token_id=_wire_uint(d, "tokenId"),
            maker_amount=_wire_uint(d, "makerAmount"),
            taker_amount=_wire_uint(d, "takerAmount"),
            side=_SIDE_FROM_WIRE[side_raw],
            signature_type=sig_type,
            timestamp=_wire_uint(d, "timestamp"),
            metadata=_wire_bytes32(d, "metadata"),
            builder=_wire_bytes32(d, "builder"),
        )

    def to_json(self, signature: str, expiration: int = 0) -> dict[str, Any]:
        """The `order` object exactly as the SDKs post it: salt and signatureType are JSON numbers,
        tokenId/amounts/expiration/timestamp are decimal strings, side is "BUY"/"SELL"."""
        return {
            "salt": self.salt,
            "maker": self.maker,
            "signer": self.signer,
            "tokenId": str(self.token_id),
            "makerAmount": str(self.maker_amount),
            "takerAmount": str(self.taker_amount),
            "side": _SIDE_TO_WIRE[self.side],
            "expiration": str(expiration),
            "signatureType": self.signature_type,
            "timestamp": str(self.timestamp),
            "metadata": self.metadata,
            "builder": self.builder,
            "signature": signature,
        }

    def validate(self) -> None:
        """Raise OrderFormatError naming the first field that cannot be encoded. Not called on the
        hot path; `order_digest` calls it only when encoding fails, to explain why."""
        for name in ("salt", "token_id", "maker_amount", "taker_amount", "timestamp"):
            v = getattr(self, name)
            if type(v) is not int or not 0 <= v <= _UINT256_MAX:
                raise OrderFormatError(f"{name} must be an int in [0, 2^256), got {v!r}")
        for name in ("maker", "signer"):
            v = getattr(self, name)
            if not isinstance(v, str) or not _ADDRESS_RE.fullmatch(v):
                raise OrderFormatError(f"{name} must be a 0x-prefixed 20-byte hex address, got {v!r}")
        if self.side not in (BUY, SELL) or type(self.side) is not int:
            raise OrderFormatError(f"side must be 0 (BUY) or 1 (SELL), got {self.side!r}")
        if self.signature_type not in SIGNATURE_TYPES or type(self.signature_type) is not int:
            raise OrderFormatError(f"signature_type must be one of 0, 1, 2, 3, got {self.signature_type!r}")
        for name in ("metadata", "builder"):
            v = getattr(self, name)
            if not isinstance(v, str) or not _BYTES32_RE.fullmatch(v):
                raise OrderFormatError(f"{name} must be 0x + 64 hex digits (bytes32), got {v!r}")


_V1_ONLY_FIELDS = ("nonce", "feeRateBps", "taker")
_V2_REQUIRED_FIELDS = ("timestamp", "metadata", "builder")


def is_v1_shaped(d: dict[str, Any]) -> bool:
    """True if a wire order looks like a V1 order (has nonce/feeRateBps/taker, or lacks any of
    timestamp/metadata/builder): the exchange answers those with 400 `order_version_mismatch`."""
    return any(k in d for k in _V1_ONLY_FIELDS) or any(k not in d for k in _V2_REQUIRED_FIELDS)


# --- domains and digests ----------------------------------------------------------------------


@lru_cache(maxsize=64)
def _domain_separator(neg_risk: bool, version: str, chain_id: int, verifying_contract: str | None) -> bytes:
    if not isinstance(version, str):
        raise ValueError(f"domain version must be a string, got {version!r}")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise ValueError(f"chain_id must be a positive int, got {chain_id!r}")
    if verifying_contract is None:
        if version == "2":
            verifying_contract = NEG_RISK_EXCHANGE_V2 if neg_risk else CTF_EXCHANGE_V2
        elif version == "3":
            # Protocol-V2 positions settle on the one ExchangeV3 whether or not the market is neg-risk.
            verifying_contract = EXCHANGE_V3
        else:
            raise ValueError(
                f'exchange domain version must be "2" or "3" (or pass verifying_contract), got {version!r}'
            )
    return keccak256(
        _DOMAIN_TYPEHASH
        + _EXCHANGE_NAME_HASH
        + keccak256(version.encode())
        + chain_id.to_bytes(32, "big")
        + _address_word(verifying_contract)
    )


def exchange_domain_separator(
    *,
    neg_risk: bool = False,
    version: str = "2",
    chain_id: int = CHAIN_ID,
    verifying_contract: str | None = None,
) -> bytes:
    """EIP-712 domain separator of the exchange an order is signed for (cached)."""
    return _domain_separator(bool(neg_risk), version, chain_id, verifying_contract)


def _order_struct_hash(order: OrderV2) -> bytes:
    try:
        data = b"".join(
            (
                _ORDER_TYPEHASH,
                order.salt.to_bytes(32, "big"),
                _address_word(order.maker),
                _address_word(order.signer),
                order.token_id.to_bytes(32, "big"),
                order.maker_amount.to_bytes(32, "big"),
                order.taker_amount.to_bytes(32, "big"),
                _SIDE_WORDS[order.side],
                _SIG_TYPE_WORDS[order.signature_type],
                order.timestamp.to_bytes(32, "big"),
                _bytes32_word(order.metadata),
                _bytes32_word(order.builder),
            )
        )
    except (OverflowError, AttributeError, TypeError, ValueError, KeyError):
        order.validate()  # raises a message naming the field
        raise
    return keccak256(data)


def order_struct_hash(order: OrderV2) -> bytes:
    """EIP-712 hashStruct(order): the ERC-7739 `contents` hash of a POLY_1271 signature."""
    return _order_struct_hash(order)


def order_digest(
    order: OrderV2,
    *,
    neg_risk: bool = False,
    version: str = "2",
    chain_id: int = CHAIN_ID,
    verifying_contract: str | None = None,
) -> bytes:
    """The 32-byte EIP-712 digest of an order; "0x" + its hex is the orderID."""
    ds = _domain_separator(bool(neg_risk), version, chain_id, verifying_contract)
    return keccak256(_EIP712_PREFIX + ds + _order_struct_hash(order))


def order_id(order: OrderV2, **domain: Any) -> str:
    """The orderID the CLOB reports: 0x + hex of `order_digest`."""
    return "0x" + order_digest(order, **domain).hex()


def sign_order(order: OrderV2, private_key: bytes | str, **domain: Any) -> str:
    """Sign an order: 0x + 65-byte r||s||v (v in {27, 28}). For signature_type 3 (POLY_1271) the
    result is the 317-byte ERC-7739 wire signature for the deposit wallet `order.signer`."""
    if order.signature_type == POLY_1271:
        return build_poly_1271_signature(order, private_key, order.signer, **domain)
    return "0x" + _sign_digest(order_digest(order, **domain), private_key).hex()


def recover_order_signer(order: OrderV2, signature: str | bytes, **domain: Any) -> str:
    """The checksummed EOA that signed `order`. For signature types 0-2 the exchange requires it to
    equal `order.signer` (and, for 1/2, to own the proxy/safe `order.maker`); for type 3 the signature
    is checked as an ERC-7739 signature of the deposit wallet `order.signer` and the wallet's owner
    EOA is returned. Raises ValueError on malformed signatures."""
    if order.signature_type == POLY_1271:
        return recover_poly_1271(order, signature, order.signer, **domain)
    return _recover_digest(order_digest(order, **domain), _signature_bytes(signature))


# --- POLY_1271 (deposit wallet, ERC-1271 + ERC-7739) --------------------------------------------
#
# A deposit wallet is a smart contract, so the exchange calls its ERC-1271 isValidSignature(orderDigest,
# signature). A plain ECDSA signature over the order digest would be replayable against any other
# account the same EOA owns; ERC-7739 prevents that by having the EOA sign a TypedDataSign envelope
# that binds the order (`contents`) to this wallet's own domain (name "DepositWallet", version "1",
# chainId, verifyingContract = the wallet, salt 0), still under the exchange's domain so wallets show
# the order to the user. The wallet only receives the order digest, so the wire signature appends what
# it needs to rebuild the envelope and check it hashes to that digest:
#
#     sig65 || appDomainSeparator(32) || contentsHash(32) || contentsType (bytes) || uint16(len(contentsType))
#
# which for the Order type is 65 + 32 + 32 + 186 + 2 = 317 bytes.


def _typed_data_sign_digest(app_domain: bytes, contents_hash: bytes, wallet: str, chain_id: int) -> bytes:
    struct = keccak256(
        _TYPED_DATA_SIGN_TYPEHASH
        + contents_hash
        + _DEPOSIT_WALLET_NAME_HASH
        + _DEPOSIT_WALLET_VERSION_HASH
        + chain_id.to_bytes(32, "big")
        + _address_word(wallet)
        + _ZERO32
    )
    return keccak256(_EIP712_PREFIX + app_domain + struct)


def _domain_args(domain: dict[str, Any]) -> tuple[bool, str, int, str | None]:
    unknown = set(domain) - {"neg_risk", "version", "chain_id", "verifying_contract"}
    if unknown:
        raise TypeError(f"unexpected domain arguments: {sorted(unknown)}")
    return (
        bool(domain.get("neg_risk", False)),
        domain.get("version", "2"),
        domain.get("chain_id", CHAIN_ID),
        domain.get("verifying_contract"),
    )


def build_poly_1271_signature(order: OrderV2, private_key: bytes | str, wallet: str, **domain: Any) -> str:
    """The 317-byte POLY_1271 wire signature: the owner EOA signs the ERC-7739 TypedDataSign envelope
    of `order` for deposit wallet `wallet` (normally `order.signer` and `order.maker`)."""
    _check_address(wallet, "wallet")
    neg_risk, version, chain_id, vc = _domain_args(domain)
    app_domain = _domain_separator(neg_risk, version, chain_id, vc)
    contents = _order_struct_hash(order)
    sig = _sign_digest(_typed_data_sign_digest(app_domain, contents, wallet, chain_id), private_key)
    trailer = app_domain + contents + _ORDER_TYPE_BYTES + len(_ORDER_TYPE_BYTES).to_bytes(2, "big")
    return "0x" + (sig + trailer).hex()


def recover_poly_1271(order: OrderV2, signature: str | bytes, wallet: str, **domain: Any) -> str:
    """Check a POLY_1271 wire signature the way the deposit wallet does and return the owner EOA.

    Verifies the layout, that the embedded app domain separator is the exchange domain the order is
    for, that the embedded contents hash is this order's struct hash, and that the contents type is the
    V2 Order type, then recovers the EOA from the TypedDataSign digest bound to `wallet`. Whether
    that EOA owns `wallet` is the caller's business (on-chain the wallet knows its owner)."""
    _check_address(wallet, "wallet")
    raw = _signature_bytes(signature, "POLY_1271 signature")
    if len(raw) < 65 + 64 + 2:
        raise ValueError(f"POLY_1271 signature must be {POLY_1271_SIGNATURE_LEN} bytes, got {len(raw)}")
    type_len = int.from_bytes(raw[-2:], "big")
    if len(raw) != 65 + 64 + type_len + 2:
        raise ValueError(
            f"POLY_1271 signature length {len(raw)} does not match its contents-type length field "
            f"({type_len}): expected {65 + 64 + type_len + 2} bytes"
        )
    sig, app_domain, contents, type_bytes = raw[:65], raw[65:97], raw[97:129], raw[129:-2]
    if type_bytes != _ORDER_TYPE_BYTES:
        raise ValueError(f"POLY_1271 contents type is not the V2 Order type: {type_bytes[:60]!r}...")
    neg_risk, version, chain_id, vc = _domain_args(domain)
    expected_domain = _domain_separator(neg_risk, version, chain_id, vc)
    if app_domain != expected_domain:
        raise ValueError("POLY_1271 app domain separator is not the exchange domain of this order")
    if contents != _order_struct_hash(order):
        raise ValueError("POLY_1271 contents hash does not match the order")
    return _recover_digest(_typed_data_sign_digest(app_domain, contents, wallet, chain_id), sig)


# --- L1 auth (ClobAuth) -----------------------------------------------------------------------


@lru_cache(maxsize=8)
def _clob_auth_domain(chain_id: int) -> bytes:
    return keccak256(
        _CLOB_AUTH_DOMAIN_TYPEHASH
        + keccak256(b"ClobAuthDomain")
        + keccak256(b"1")
        + chain_id.to_bytes(32, "big")
    )


def clob_auth_digest(address: str, timestamp: int | str, nonce: int = 0, chain_id: int = CHAIN_ID) -> bytes:
    """EIP-712 digest of the L1 ClobAuth message. `timestamp` is unix seconds, signed as a *string*
    (the type says `string timestamp`), so pass the POLY_TIMESTAMP header text through unchanged."""
    _check_address(address)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | str):
        raise ValueError(f"timestamp must be an int or a string of unix seconds, got {timestamp!r}")
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce <= _UINT256_MAX:
        raise ValueError(f"nonce must be an int in [0, 2^256), got {nonce!r}")
    struct = keccak256(
        _CLOB_AUTH_TYPEHASH
        + _address_word(address)
        + keccak256(str(timestamp).encode())
        + nonce.to_bytes(32, "big")
        + _CLOB_AUTH_MESSAGE_HASH
    )
    return keccak256(_EIP712_PREFIX + _clob_auth_domain(chain_id) + struct)


def sign_clob_auth(
    private_key: bytes | str, timestamp: int | str, nonce: int = 0, chain_id: int = CHAIN_ID
) -> str:
    """POLY_SIGNATURE for L1 headers (create/derive API key), signed by the key's own address."""
    digest = clob_auth_digest(address_of(private_key), timestamp, nonce, chain_id)
    return "0x" + _sign_digest(digest, private_key).hex()


def recover_clob_auth(
    address: str, timestamp: int | str, nonce: int, signature: str | bytes, chain_id: int = CHAIN_ID
) -> str:
    """The address that signed an L1 ClobAuth for (address, timestamp, nonce); the request is
    authentic when it equals POLY_ADDRESS."""
    return _recover_digest(clob_auth_digest(address, timestamp, nonce, chain_id), _signature_bytes(signature))


__all__ = [
    "BUY",
    "CHAIN_ID",
    "CLOB_AUTH_MESSAGE",
    "CTF_EXCHANGE_V2",
    "EOA",
    "EXCHANGE_V3",
    "NEG_RISK_EXCHANGE_V2",
    "ORDER_TYPE_STRING",
    "POLY_1271",
    "POLY_1271_SIGNATURE_LEN",
    "POLY_GNOSIS_SAFE",
    "POLY_PROXY",
    "SELL",
    "SIGNATURE_TYPES",
    "ZERO_BYTES32",
    "OrderFormatError",
    "OrderV2",
    "address_of",
    "build_poly_1271_signature",
    "clob_auth_digest",
    "exchange_domain_separator",
    "is_v1_shaped",
    "keccak256",
    "order_digest",
    "order_id",
    "order_struct_hash",
    "recover_clob_auth",
    "recover_order_signer",
    "recover_poly_1271",
    "sign_clob_auth",
    "sign_order",
    "to_checksum",
]
