"""Order routing to the Polymarket CLOB on the official SDK (`polymarket-client`, async secure client).

    gw = await OrderGateway.connect(load_credentials(), GatewaySettings(clob_url=..., signature_type=3))
    result = await gw.place(request)          # PlaceResult: ACCEPTED / REJECTED / UNKNOWN, with the orderID
    await gw.cancel(result.order_id); await gw.cancel_all(); await gw.heartbeat()
    await gw.close()

What the SDK does: L1 key creation/derivation, wallet classification (EOA 0, POLY_PROXY 1, GNOSIS_SAFE 2,
deposit wallet / POLY_1271 3 - chosen by the wallet address, checked against the configured signature
type), market metadata (tick, neg-risk), order amounts and signing, L2 HMAC, request/response models.
What this module adds: exact unit mapping, client-side rate limits (`ratelimit`), retries by error class
(`retry`), the resolution of posts whose outcome is unknown, and heartbeats.

Mapping an `OrderRequest` (price in 1e-4 units, size in 1e-6 shares) to the SDK never goes through a
float: prices and sizes are passed as exact decimal strings.
* GTC / GTD: a limit order of `size` shares at `price` (post-only allowed). GTD sends `expiration` as
  given: the engine already adds the exchange's 60 s security threshold; the SDK refuses expirations
  less than 180 s ahead.
* FOK / FAK: the SDK's market order with a protected price, because the exchange holds market orders to
  other amount precisions than limit orders (a BUY spends at most 2-decimal USDC). A SELL sells `size`
  shares at no less than `price`; a BUY spends `size x price` rounded down to the cent at no more than
  `price`, so it can buy slightly fewer than `size` shares. `PlaceResult.matched` says what matched.
Sizes must be whole hundredths of a share (the exchange's size precision); anything finer is refused
rather than rounded.

The orderID is the EIP-712 digest of the signed order. It is computed (with
`engine.venues.polymarket.clob.signing`, checking that the SDK's signature verifies under the chosen
exchange domain) before the order is sent, so a post whose outcome is unknown - no answer within
`post_soft_timeout_s`, a dropped connection, a 5xx - is resolved by asking for that id
(`GET /data/order/{id}`, then the account's trades) and never resent blindly; once it is known not to be
on the exchange, the *same* signed order may be sent again (`resend_after_unknown` times), which the
exchange would refuse as a duplicate if the first copy had landed after all.

The SDK signs with eth_account's typed-data path, ~1-2 ms per order (10+ ms for the first); the faster
`engine.venues.polymarket.clob.signing` is used only to compute and check ids.

Rate-limit headers: the SDK reports `Poly-RateLimit-*` of every CLOB response to a listener without
saying which request it came from; the gateway tags each request with its route in a context variable,
so the listener charges the right bucket. 429s surface as `RateLimitError(retry_after=...)`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any, TypeVar

import httpx
from polymarket import AsyncSecureClient
from polymarket._internal.environment import PRODUCTION_CONFIG, with_environment_config
from polymarket.environments import PRODUCTION, Environment
from polymarket.errors import OrderHeartbeatMismatchError, RequestRejectedError
from polymarket.models.clob.api_key import ApiKeyCreds
from polymarket.models.clob.order_response import AcceptedOrder, RejectedOrder
from polymarket.models.clob.orders import SignedOrder
from polymarket.rate_limit import RateLimitUpdate

from engine.domain import OrderRequest, OrderType, Side
from engine.logs import log_event
from engine.units import ONE, px_from_decimal, px_to_str, qty_from_decimal, qty_from_str, qty_to_str
from engine.venues.polymarket.clob.signing import OrderV2, order_id, recover_order_signer
from engine.venues.polymarket.keys import ApiCredentials, LiveCredentials, Secret
from engine.venues.polymarket.ratelimit import CANCEL, AsyncioTimer, RateLimited, RateLimiter, Timer
from engine.venues.polymarket.retry import (
    Absent,
    ErrorKind,
    Outcome,
    Resolution,
    Retrier,
    RetryPolicy,
    classify,
    error_text,
    resolve_post,
    retry_after_s,
)

LOG = logging.getLogger("bigearn.venues.polymarket.gateway")
T = TypeVar("T")

MAX_BATCH = 15  # POST /orders
MAX_CANCEL_BATCH = 3000  # DELETE /orders
SIZE_STEP = 10_000  # 0.01 shares in 1e-6 units: the exchange's size precision
WALLET_SIGNATURE_TYPES = {"EOA": 0, "POLY_PROXY": 1, "GNOSIS_SAFE": 2, "DEPOSIT_WALLET": 3}
SIGNATURE_TYPE_NAMES = {0: "EOA", 1: "POLY_PROXY", 2: "POLY_GNOSIS_SAFE", 3: "POLY_1271 (deposit wallet)"}
_V2_POSITION_MASK = ((1 << 64) - 1) << 40

_route: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("pm_route", default=None)


class GatewayError(Exception):
    """The gateway cannot be set up or used as configured; the message says why."""


class BatchTooLarge(GatewayError):
    """More than 15 orders in one batch: refused before anything is signed or sent."""


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    clob_url: str = PRODUCTION_CONFIG.clob_url
    market_ws_url: str = PRODUCTION_CONFIG.clob_market_ws_url
    user_ws_url: str = PRODUCTION_CONFIG.clob_user_ws_url
    gamma_url: str = PRODUCTION_CONFIG.gamma_url
    data_url: str = PRODUCTION_CONFIG.data_url
    relayer_url: str = PRODUCTION_CONFIG.relayer_url  # only non-EOA wallets ask it whether they are deployed
    rpc_url: str = PRODUCTION_CONFIG.rpc_url
    chain_id: int = PRODUCTION_CONFIG.chain_id
    signature_type: int = 3
    rate_limit_tier: str = "standard"
    rate_limit_max_wait_s: float = 5.0
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)

    def environment(self) -> Environment:
        """The SDK's production environment with these endpoints (the SDK's documented override)."""
        config = dataclasses.replace(
            PRODUCTION_CONFIG,
            clob_url=self.clob_url.rstrip("/"),
            clob_market_ws_url=self.market_ws_url,
            clob_user_ws_url=self.user_ws_url,
            gamma_url=self.gamma_url.rstrip("/"),
            data_url=self.data_url.rstrip("/"),
            relayer_url=self.relayer_url.rstrip("/"),
            rpc_url=self.rpc_url,
            chain_id=self.chain_id,
        )
        return with_environment_config(PRODUCTION, config=config)


class PlaceStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class PlaceResult:
    client_order_id: str
    status: PlaceStatus
    order_id: str  # the EIP-712 hash; "" when the order could not even be signed
    reason: str = ""  # REJECTED: the exchange's (or SDK's / our) message verbatim; UNKNOWN: why
    exchange_status: str = ""  # live | matched | delayed, or the status a lookup found (LIVE, MATCHED, ...)
    matched: int = 0  # shares (1e-6) matched on arrival, when the answer says
    trade_ids: tuple[str, ...] = ()
    resolved: bool = False  # the outcome was established after an unknown post


@dataclass(frozen=True, slots=True)
class PreparedOrder:
    request: OrderRequest
    signed: SignedOrder
    order_id: str


@dataclass(frozen=True, slots=True)
class OpenOrderInfo:
    order_id: str
    condition_id: str
    token_id: str
    side: Side
    price: int
    original_size: int
    size_matched: int
    status: str
    order_type: str
    created_at: int  # unix seconds
    expiration: int  # unix seconds, 0 = none


@dataclass(frozen=True, slots=True)
class TradedOrder:
    """What the account's trades show of one order: shares matched (1e-6) and those trades' ids, oldest
    first. Falsy when no trade names the order (the contract of `resolve_post`'s `search_trades`)."""

    matched: int
    trade_ids: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.matched > 0


@dataclass(frozen=True, slots=True)
class CancelResult:
    canceled: tuple[str, ...]
    not_canceled: dict[str, str]


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """What the gateway went through, for observers (the venue, logs, tests): retry, unknown, resolved,
    not_placed, resend, abandoned."""

    kind: str
    order_id: str = ""
    client_order_id: str = ""
    detail: str = ""


def _dec_str(d: Decimal) -> str:
    return format(d, "f")


def _is_position_id(token_id: int) -> bool:
    return token_id & _V2_POSITION_MASK == 0


def _is_duplicate(exc: BaseException) -> bool:
    return isinstance(exc, RequestRejectedError) and str(exc).endswith("Duplicated.")


def _to_order_v2(signed: SignedOrder) -> OrderV2:
    return OrderV2(
        salt=signed.salt,
        maker=signed.maker,
        signer=signed.signer,
        token_id=int(signed.token_id),
        maker_amount=signed.maker_amount,
        taker_amount=signed.taker_amount,
        side=0 if signed.side == "BUY" else 1,
        signature_type=signed.signature_type,
        timestamp=signed.timestamp,
        metadata=signed.metadata,
        builder=signed.builder,
    )


def order_id_of(signed: SignedOrder, signer: str) -> str:
    """The orderID of a signed order: its EIP-712 digest under the exchange domain its signature
    verifies for (standard or neg-risk exchange; ExchangeV3 for Protocol-V2 position ids)."""
    order = _to_order_v2(signed)
    domains: tuple[dict[str, Any], ...] = (
        ({"version": "3"},) if _is_position_id(order.token_id) else ({"neg_risk": False}, {"neg_risk": True})
    )
    for domain in domains:
        try:
            recovered = recover_order_signer(order, signed.signature, **domain)
        except ValueError:
            continue
        if recovered.lower() == signer.lower():
            return order_id(order, **domain)
    raise GatewayError("the SDK's order signature verifies under no exchange domain; cannot compute its id")


def _open_order_info(o: Any) -> OpenOrderInfo:
    expires = o.expires_at
    return OpenOrderInfo(
        order_id=o.id,
        condition_id=str(o.condition_id),
        token_id=str(o.asset_id),
        side=Side(o.side),
        price=px_from_decimal(o.price),
        original_size=qty_from_decimal(o.original_size),
        size_matched=qty_from_decimal(o.size_matched),
        status=o.status,
        order_type=o.order_type,
        created_at=int(o.created_at.timestamp()),
        expiration=int(expires.timestamp()) if expires is not None else 0,
    )


def trade_row(t: Any) -> dict[str, Any]:
    """An SDK `ClobTrade` back in the REST `/data/trades` row shape the user stream ingests."""
    return {
        "id": t.id,
        "taker_order_id": t.taker_order_id,
        "market": str(t.condition_id),
        "asset_id": str(t.asset_id),
        "side": t.side,
        "size": _dec_str(t.size),
        "price": _dec_str(t.price),
        "fee_rate_bps": _dec_str(t.fee_rate_bps),
        "status": t.status,
        "match_time": str(int(t.matched_at.timestamp())),
        "last_update": str(int(t.updated_at.timestamp())),
        "outcome": t.outcome,
        "bucket_index": t.bucket_index,
        "owner": t.owner,
        "maker_address": t.maker_address,
        "transaction_hash": t.transaction_hash or "",
        "trader_side": t.trader_side,
        "maker_orders": [
            {
                "order_id": m.order_id,
                "owner": m.owner,
                "maker_address": m.maker_address,
                "matched_amount": _dec_str(m.matched_amount),
                "price": _dec_str(m.price),
                "fee_rate_bps": _dec_str(m.fee_rate_bps) if m.fee_rate_bps is not None else "0",
                "asset_id": str(m.asset_id),
                "outcome": m.outcome,
                "side": m.side,
            }
            for m in t.maker_orders
        ],
    }


class OrderGateway:
    """One signer's trading session on the CLOB. Build it with `connect`."""

    def __init__(
        self,
        client: AsyncSecureClient,
        *,
        settings: GatewaySettings,
        limiter: RateLimiter,
        timer: Timer,
        rng: random.Random,
        on_event: Callable[[GatewayEvent], None] | None = None,
    ) -> None:
        self._client = client
        self.settings = settings
        self.limiter = limiter
        self.timer = timer
        self.on_event = on_event
        self._http = httpx.AsyncClient(
            base_url=settings.clob_url.rstrip("/"), timeout=settings.retry.request_timeout_s
        )
        self.retrier = Retrier(
            settings.retry,
            timer=timer,
            rng=rng,
            limiter=limiter,
            health=self.healthy,
            on_retry=self._on_retry,
        )
        # Ids declared not placed: should one ever show up after all, it must be cancelled, not kept.
        self.abandoned: set[str] = set()
        self._heartbeat_id = ""
        self._heartbeat_lock = asyncio.Lock()

    @classmethod
    async def connect(
        cls,
        credentials: LiveCredentials,
        settings: GatewaySettings | None = None,
        *,
        timer: Timer | None = None,
        rng: random.Random | None = None,
        on_event: Callable[[GatewayEvent], None] | None = None,
    ) -> OrderGateway:
        """Authenticate (derive or create the API key with an L1 signature unless credentials carry one)
        and check that the wallet is of the configured signature type."""
        settings = settings or GatewaySettings()
        sig_type = settings.signature_type
        if sig_type not in SIGNATURE_TYPE_NAMES:
            raise GatewayError(
                f"signature_type {sig_type}: accepted: 0 (EOA), 1 (proxy), 2 (safe), 3 (deposit wallet)"
            )
        wallet: str | None = credentials.funder
        if sig_type == 0:
            if wallet is not None and wallet.lower() != credentials.address.lower():
                raise GatewayError(
                    f"signature_type 0 (EOA) trades from the signer {credentials.address} itself, "
                    f"but a different funder {wallet} is set"
                )
            wallet = credentials.address
        elif sig_type in (1, 2) and wallet is None:
            raise GatewayError(
                f"signature_type {sig_type} ({SIGNATURE_TYPE_NAMES[sig_type]}) needs the wallet address: "
                "set BIGEARN_FUNDER"
            )
        timer = timer or AsyncioTimer()
        rng = rng or random.Random()
        limiter = RateLimiter(
            tier=settings.rate_limit_tier, timer=timer, max_wait_s=settings.rate_limit_max_wait_s
        )
        api = credentials.api
        sdk_creds = (
            ApiKeyCreds.model_validate(
                {
                    "apiKey": api.key.reveal(),
                    "secret": api.secret.reveal(),
                    "passphrase": api.passphrase.reveal(),
                }
            )
            if api is not None
            else None
        )

        def listener(update: RateLimitUpdate) -> None:
            route = _route.get()
            limiter.on_headers(
                limiter.bucket_of(*route) if route else None,
                remaining=update.remaining,
                reset=update.reset,
                tier=update.tier,
                warning=update.warning,
            )

        key = credentials.private_key.reveal()
        # Setting up is several requests (key derivation, key check, wallet check): one budget for all.
        bootstrap = Retrier(
            dataclasses.replace(
                settings.retry, request_timeout_s=max(settings.retry.request_timeout_s, 30.0)
            ),
            timer=timer,
            rng=rng,
        )
        try:
            client = await bootstrap.call(
                lambda: AsyncSecureClient.create(
                    private_key=key,
                    wallet=wallet,
                    environment=settings.environment(),
                    credentials=sdk_creds,
                    logger=LOG,
                    on_rate_limit_update=listener,
                ),
                method="GET",
                path="/auth/derive-api-key",
            )
        except RequestRejectedError as exc:
            raise GatewayError(f"cannot authenticate with the CLOB: {exc}") from None
        except Exception as exc:
            # An SDK message might quote its input: scrub the key out of it, whatever it says.
            raise GatewayError(
                f"cannot set up the SDK client: {type(exc).__name__}: {_scrub(str(exc), key)}"
            ) from None
        actual = WALLET_SIGNATURE_TYPES.get(client.wallet_type)
        if actual != sig_type:
            await client.close()
            raise GatewayError(
                f"wallet {client.wallet} is a {client.wallet_type} wallet of signer {client.signer} "
                f"(signature type {actual}), but signature_type = {sig_type} "
                f"({SIGNATURE_TYPE_NAMES[sig_type]}) is configured"
            )
        gateway = cls(client, settings=settings, limiter=limiter, timer=timer, rng=rng, on_event=on_event)
        log_event(
            LOG,
            "clob_connected",
            signer=str(client.signer),
            wallet=str(client.wallet),
            wallet_type=client.wallet_type,
            signature_type=sig_type,
            clob=settings.clob_url,
        )
        return gateway

    def __repr__(self) -> str:
        return (
            f"OrderGateway(signer={self.signer}, wallet={self.wallet}, signature_type={self.signature_type})"
        )

    async def close(self) -> None:
        await self._http.aclose()
        await self._client.close()

    # --- identity ---------------------------------------------------------------------------------

    @property
    def signer(self) -> str:
        return str(self._client.signer)

    @property
    def wallet(self) -> str:
        return str(self._client.wallet)

    @property
    def signature_type(self) -> int:
        return WALLET_SIGNATURE_TYPES[self._client.wallet_type]

    @property
    def api_credentials(self) -> ApiCredentials:
        """The L2 credentials in use (the user WebSocket authenticates with them)."""
        c = self._client.credentials
        return ApiCredentials(key=Secret(c.key), secret=Secret(c.secret), passphrase=Secret(c.passphrase))

    # --- plumbing ---------------------------------------------------------------------------------

    def _emit(self, kind: str, order_id: str = "", client_order_id: str = "", detail: str = "") -> None:
        log_event(LOG, f"clob_{kind}", order=order_id, client_order_id=client_order_id, detail=detail)
        if self.on_event is not None:
            self.on_event(GatewayEvent(kind, order_id, client_order_id, detail))

    def _on_retry(self, kind: ErrorKind, attempt: int, delay: float, exc: BaseException) -> None:
        if self.on_event is not None:
            self.on_event(GatewayEvent("retry", detail=f"{kind.value} attempt {attempt}: {error_text(exc)}"))

    async def _limited(self, method: str, path: str, cost: float, fn: Callable[[], Awaitable[T]]) -> T:
        await self.limiter.acquire(method, path, cost)
        _route.set((method, path))  # this task's context: the SDK's header listener runs inside it
        return await fn()

    async def _call(self, method: str, path: str, fn: Callable[[], Awaitable[T]], cost: float = 1.0) -> T:
        return await self.retrier.call(
            lambda: self._limited(method, path, cost, fn), method=method, path=path
        )

    async def healthy(self) -> bool:
        """GET /ok answers 200 (the SDK has no call for it)."""
        if not self.limiter.try_acquire("GET", "/ok"):
            return False
        try:
            response = await self._http.get("/ok")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # --- orders -------------------------------------------------------------------------------------

    def check(self, request: OrderRequest) -> str | None:
        """Why the exchange could never take `request` as given (None if it could)."""
        if request.size <= 0 or request.size % SIZE_STEP:
            return f"size {qty_to_str(request.size)} is not a positive multiple of 0.01 shares"
        if not 0 < request.price < ONE:
            return f"price {px_to_str(request.price)} is not between 0 and 1"
        if request.post_only and not request.order_type.rests:
            return "post-only orders are only supported for GTC and GTD order types"
        if request.order_type is OrderType.GTD and not request.expiration:
            return "a GTD order needs an expiration"
        if request.order_type is not OrderType.GTD and request.expiration:
            return f"expiration is only valid for GTD orders, not {request.order_type.value}"
        return None

    async def prepare(self, request: OrderRequest) -> PreparedOrder:
        """Build and sign the order with the SDK and compute its id. Raises `ValueError` with the reason
        when it cannot be built (our checks or the SDK's validation)."""
        problem = self.check(request)
        if problem is not None:
            raise ValueError(problem)
        price = px_to_str(request.price)
        client = self._client
        if request.order_type.rests:

            async def build() -> SignedOrder:
                return await client.create_limit_order(
                    token_id=request.token_id,
                    price=price,
                    size=qty_to_str(request.size),
                    side=request.side.value,
                    post_only=request.post_only,
                    expiration=request.expiration if request.order_type is OrderType.GTD else None,
                )
        elif request.side is Side.BUY:
            spend = (Decimal(request.price * request.size).scaleb(-10)).quantize(Decimal("0.01"), ROUND_FLOOR)
            if spend <= 0:
                raise ValueError(f"a {request.order_type.value} BUY must spend at least $0.01 (size x price)")

            async def build() -> SignedOrder:
                return await client.create_market_order(
                    token_id=request.token_id,
                    side="BUY",
                    amount=_dec_str(spend),
                    max_price=price,
                    order_type=request.order_type.value,
                )
        else:

            async def build() -> SignedOrder:
                return await client.create_market_order(
                    token_id=request.token_id,
                    side="SELL",
                    shares=qty_to_str(request.size),
                    min_price=price,
                    order_type=request.order_type.value,
                )

        try:
            # Building may fetch the market's tick and neg-risk flag (cached afterwards).
            signed = await self.retrier.call(build, method="GET", path="/clob-markets")
        except RequestRejectedError as exc:
            raise ValueError(str(exc)) from None
        except Exception as exc:
            if classify(exc) is ErrorKind.REJECTED:
                raise ValueError(str(exc) or type(exc).__name__) from None
            raise
        return PreparedOrder(request, signed, order_id_of(signed, self.signer))

    async def place(self, request: OrderRequest) -> PlaceResult:
        """Prepare and submit one order."""
        try:
            prepared = await self.prepare(request)
        except ValueError as exc:
            return PlaceResult(request.client_order_id, PlaceStatus.REJECTED, "", reason=str(exc))
        return await self.submit(prepared)

    def _accepted(
        self, prepared: PreparedOrder, response: AcceptedOrder, *, resolved: bool = False
    ) -> PlaceResult:
        shares = response.taking_amount if prepared.request.side is Side.BUY else response.making_amount
        if response.order_id.lower() != prepared.order_id.lower():
            log_event(
                LOG,
                "clob_order_id_mismatch",
                logging.ERROR,
                computed=prepared.order_id,
                exchange=response.order_id,
                client_order_id=prepared.request.client_order_id,
            )
        return PlaceResult(
            prepared.request.client_order_id,
            PlaceStatus.ACCEPTED,
            response.order_id,
            exchange_status=response.status,
            matched=qty_from_decimal(shares) if response.status == "matched" else 0,
            trade_ids=tuple(response.trade_ids),
            resolved=resolved,
        )

    def _rejected(self, prepared: PreparedOrder, reason: str) -> PlaceResult:
        return PlaceResult(
            prepared.request.client_order_id, PlaceStatus.REJECTED, prepared.order_id, reason=reason
        )

    def _interpret(self, result: Any) -> Resolution | None:
        """What a late answer to a post proves (None: nothing, ask the exchange)."""
        if isinstance(result, AcceptedOrder):
            return Resolution(Outcome.PLACED, response=result)
        if isinstance(result, RejectedOrder):
            return Resolution(Outcome.REJECTED, reason=result.message)
        if isinstance(result, BaseException):
            kind = classify(result)
            if kind is ErrorKind.REJECTED and not _is_duplicate(result):
                return Resolution(Outcome.REJECTED, reason=error_text(result))
            if kind in (ErrorKind.RESTARTING, ErrorKind.RATE_LIMITED):
                return Resolution(Outcome.NOT_PLACED, reason=error_text(result))
        return None

    async def _lookup(self, order_id: str) -> OpenOrderInfo:
        found = await self.get_order(order_id)
        if found is None:
            raise Absent(order_id)
        return found

    async def _trades_naming(self, order_id: str) -> TradedOrder:
        """What the account's trades show of `order_id` (falsy if none names it)."""
        oid = order_id.lower()
        matched = 0
        ids: list[str] = []
        for row in await self.trades():  # newest first
            here = 0
            if row["taker_order_id"].lower() == oid and row["trader_side"] == "TAKER":
                here += qty_from_str(row["size"])
            here += sum(
                qty_from_str(m["matched_amount"]) for m in row["maker_orders"] if m["order_id"].lower() == oid
            )
            if here:
                matched += here
                ids.append(row["id"])
        return TradedOrder(matched, tuple(reversed(ids)))

    async def _from_resolution(self, prepared: PreparedOrder, res: Resolution) -> PlaceResult:
        coid, oid = prepared.request.client_order_id, prepared.order_id
        if res.response is not None:
            return self._accepted(prepared, res.response, resolved=True)
        found = res.order
        if isinstance(found, TradedOrder):  # only the trades name it: it matched and is no longer listed
            status, matched, trade_ids = "MATCHED", found.matched, found.trade_ids
        else:
            status, matched, trade_ids = found.status, found.size_matched, ()
            # The lookup does not carry trade ids; the trade list does. A fill must be traceable to its
            # trade whichever way the outcome became known, so a matched order is looked up there too.
            if matched:
                try:
                    trade_ids = (await self._trades_naming(oid)).trade_ids
                except Exception as exc:  # placed either way; the user channel still names the trades
                    log_event(LOG, "trade_lookup_failed", logging.WARNING, order=oid, error=error_text(exc))
        return PlaceResult(
            coid,
            PlaceStatus.ACCEPTED,
            oid,
            exchange_status=status,
            matched=matched,
            trade_ids=trade_ids,
            resolved=True,
            reason=res.reason,
        )

    async def submit(self, prepared: PreparedOrder) -> PlaceResult:
        """Post a prepared order and return its outcome. See the module docstring for unknown outcomes."""
        policy = self.settings.retry
        timer = self.timer
        coid, oid = prepared.request.client_order_id, prepared.order_id
        client = self._client
        backoff = self.retrier.backoff()
        started = timer.monotonic()
        server_failures = 0
        resends = 0
        rate_waited = 0.0
        last_error = ""
        while True:
            try:
                await self.limiter.acquire("POST", "/order", 1)
            except RateLimited as exc:
                return self._rejected(prepared, f"rate limited (client): {exc}")

            async def post() -> Any:
                _route.set(("POST", "/order"))
                return await client.post_order(prepared.signed)

            sent_at = timer.monotonic()
            task = asyncio.ensure_future(post())
            # Network timeouts run on the loop's clock: past the hard timeout the request is abandoned
            # (its connection closed) even while a resolution is still asking about it.
            hard = asyncio.get_running_loop().call_later(policy.post_hard_timeout_s, task.cancel)
            task.add_done_callback(_settled(hard))
            await asyncio.wait({task}, timeout=policy.post_soft_timeout_s)
            settle = policy.unknown_settle_s
            inflight: asyncio.Future[Any] | None = None
            ended_at: float | None = None
            if task.done():
                # Cancelled = abandoned at the hard timeout (when it equals the soft one): no answer.
                exc = TimeoutError("post abandoned") if task.cancelled() else task.exception()
                if exc is None:
                    response = task.result()
                    if isinstance(response, AcceptedOrder):
                        return self._accepted(prepared, response)
                    return self._rejected(prepared, response.message)
                kind = classify(exc)
                last_error = error_text(exc)
                if kind is ErrorKind.REJECTED and not _is_duplicate(exc):
                    return self._rejected(prepared, last_error)
                if kind in (ErrorKind.RESTARTING, ErrorKind.RATE_LIMITED):
                    # Refused before any processing: definitely not placed, the same order may go again.
                    delay = await self.retrier.delay_for(
                        kind, exc, method="POST", path="/order", backoff=backoff
                    )
                    assert delay is not None
                    if kind is ErrorKind.RATE_LIMITED:
                        rate_waited += delay
                        if rate_waited > policy.rate_limit_max_wait_s:
                            return self._rejected(prepared, last_error)
                    elif timer.monotonic() - started + delay > policy.restart_deadline_s:
                        return self._rejected(prepared, last_error)
                    self._on_retry(kind, server_failures + resends + 1, delay, exc)
                    log_event(
                        LOG, "clob_retry", logging.WARNING, kind=kind.value, order=oid, error=last_error
                    )
                    await timer.sleep(delay)
                    if kind is ErrorKind.RESTARTING:
                        await self.retrier.wait_until_healthy(started)
                    continue
                ended_at = timer.monotonic()
                if kind is ErrorKind.SERVER or _is_duplicate(exc):
                    settle = 0.0  # the server answered: it is done with the request
                self._emit("unknown", oid, coid, last_error)
            else:
                inflight = task
                last_error = f"no answer within {policy.post_soft_timeout_s:g} s"
                self._emit("unknown", oid, coid, last_error)
            resolution = await resolve_post(
                oid,
                inflight=inflight,
                sent_at=sent_at,
                ended_at=ended_at,
                settle_s=settle,
                lookup=self._lookup,
                search_trades=self._trades_naming,
                interpret=self._interpret,
                policy=policy,
                timer=timer,
            )
            if resolution.outcome is Outcome.PLACED:
                self._emit(
                    "resolved", oid, coid, "placed" + (f" ({resolution.reason})" if resolution.reason else "")
                )
                return await self._from_resolution(prepared, resolution)
            if resolution.outcome is Outcome.REJECTED:
                self._emit("resolved", oid, coid, f"rejected: {resolution.reason}")
                return self._rejected(prepared, resolution.reason)
            if resolution.outcome is Outcome.UNKNOWN:
                self._emit("unresolved", oid, coid, resolution.reason)
                return PlaceResult(
                    coid, PlaceStatus.UNKNOWN, oid, reason=f"{last_error}; {resolution.reason}"
                )
            self._emit("not_placed", oid, coid, last_error)
            if settle == 0.0:
                server_failures += 1
                exhausted = server_failures >= policy.attempts
            else:
                resends += 1
                exhausted = resends > policy.resend_after_unknown
            if exhausted:
                self.abandoned.add(oid.lower())
                self._emit("abandoned", oid, coid, last_error)
                return self._rejected(prepared, f"not placed: {last_error}")
            delay = backoff.next_delay()
            self._emit("resend", oid, coid, f"after {delay:.3f} s")
            await timer.sleep(delay)

    async def place_many(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Up to 15 orders in one POST /orders (refused client-side beyond that). Per-order refusals come
        back verbatim; if the batch's outcome is unknown each order is resolved on its own."""
        if len(requests) > MAX_BATCH:
            raise BatchTooLarge(f"a batch holds at most {MAX_BATCH} orders, got {len(requests)}")
        if not requests:
            return []
        results: dict[str, PlaceResult] = {}
        prepared: list[PreparedOrder] = []
        for req in requests:
            try:
                prepared.append(await self.prepare(req))
            except ValueError as exc:
                results[req.client_order_id] = PlaceResult(
                    req.client_order_id, PlaceStatus.REJECTED, "", reason=str(exc)
                )
        if prepared:
            for p, r in zip(prepared, await self._post_batch(prepared), strict=True):
                results[p.request.client_order_id] = r
        return [results[r.client_order_id] for r in requests]

    async def _post_batch(self, prepared: list[PreparedOrder]) -> list[PlaceResult]:
        policy = self.settings.retry
        client = self._client
        signed = [p.signed for p in prepared]
        try:
            await self.limiter.acquire("POST", "/orders", len(prepared))
        except RateLimited as exc:
            return [self._rejected(p, f"rate limited (client): {exc}") for p in prepared]

        async def post() -> Any:
            _route.set(("POST", "/orders"))
            return await client.post_orders(signed)

        try:
            responses = await asyncio.wait_for(post(), policy.post_hard_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind is ErrorKind.REJECTED:
                return [self._rejected(p, error_text(exc)) for p in prepared]
            if kind in (ErrorKind.RESTARTING, ErrorKind.RATE_LIMITED):
                delay = retry_after_s(exc) or self.retrier.backoff().next_delay()
                self._on_retry(kind, 1, delay, exc)
                await self.timer.sleep(delay)
                return list(await asyncio.gather(*(self.submit(p) for p in prepared)))
            self._emit("unknown", detail=f"batch of {len(prepared)}: {error_text(exc)}")
            return list(await asyncio.gather(*(self._settle_unknown(p) for p in prepared)))
        out = []
        for p, response in zip(prepared, responses, strict=True):
            if isinstance(response, AcceptedOrder):
                out.append(self._accepted(p, response))
            else:
                out.append(self._rejected(p, response.message))
        return out

    async def _settle_unknown(self, prepared: PreparedOrder) -> PlaceResult:
        """One order of a batch whose answer was lost: found -> accepted; absent -> sent on its own."""
        now = self.timer.monotonic()
        resolution = await resolve_post(
            prepared.order_id,
            inflight=None,
            sent_at=now,
            ended_at=now,
            settle_s=self.settings.retry.unknown_settle_s,
            lookup=self._lookup,
            search_trades=self._trades_naming,
            interpret=self._interpret,
            policy=self.settings.retry,
            timer=self.timer,
        )
        if resolution.outcome is Outcome.PLACED:
            return await self._from_resolution(prepared, resolution)
        if resolution.outcome is Outcome.NOT_PLACED:
            return await self.submit(prepared)
        return PlaceResult(
            prepared.request.client_order_id, PlaceStatus.UNKNOWN, prepared.order_id, reason=resolution.reason
        )

    # --- cancels ----------------------------------------------------------------------------------------

    @staticmethod
    def _cancel_result(response: Any) -> CancelResult:
        return CancelResult(tuple(response.canceled), dict(response.not_canceled))

    async def cancel(self, order_id: str) -> CancelResult:
        client = self._client
        response = await self._call("DELETE", "/order", lambda: client.cancel_order(order_id=order_id))
        return self._cancel_result(response)

    async def cancel_many(self, order_ids: Sequence[str]) -> CancelResult:
        client = self._client
        canceled: list[str] = []
        not_canceled: dict[str, str] = {}
        ids = list(order_ids)
        for start in range(0, len(ids), MAX_CANCEL_BATCH):
            chunk = ids[start : start + MAX_CANCEL_BATCH]
            response = await self._call(
                "DELETE",
                "/orders",
                lambda chunk=chunk: client.cancel_orders(order_ids=chunk),
                cost=len(chunk),
            )
            canceled.extend(response.canceled)
            not_canceled.update(response.not_canceled)
        return CancelResult(tuple(canceled), not_canceled)

    async def cancel_all(self) -> CancelResult:
        client = self._client
        result = self._cancel_result(await self._call("DELETE", "/cancel-all", client.cancel_all))
        self.limiter.charge(CANCEL, len(result.canceled))
        return result

    async def cancel_market(
        self, condition_id: str | None = None, token_id: str | None = None
    ) -> CancelResult:
        if not condition_id and not token_id:
            raise ValueError("cancel_market needs a condition_id or a token_id")
        client = self._client
        response = await self._call(
            "DELETE",
            "/cancel-market-orders",
            lambda: client.cancel_market_orders(market=condition_id, asset_id=token_id),
        )
        result = self._cancel_result(response)
        self.limiter.charge(CANCEL, len(result.canceled))
        return result

    # --- queries ----------------------------------------------------------------------------------------

    async def open_orders(
        self, *, market: str | None = None, token_id: str | None = None
    ) -> list[OpenOrderInfo]:
        paginator = self._client.list_open_orders(market=market, asset_id=token_id)
        out: list[OpenOrderInfo] = []
        page = await self._call("GET", "/data/orders", paginator.first_page)
        while True:
            out.extend(_open_order_info(o) for o in page.items)
            if not page.has_more or page.next_cursor is None or page.limit_reached:
                return out
            page = await self._call("GET", "/data/orders", paginator.from_cursor(page.next_cursor).first_page)

    async def market_status(self, condition_id: str) -> dict[str, Any] | None:
        """The CLOB's market object (`closed`, `tokens[].winner`, ...), None if it does not know the market."""
        resp = await self._http.get(f"/markets/{condition_id}")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        data = resp.json()
        return data if isinstance(data, dict) else None

    async def get_order(self, order_id: str) -> OpenOrderInfo | None:
        """The order with this id in any state, or None when the exchange has no such order."""
        client = self._client
        try:
            found = await self._call("GET", "/data/order", lambda: client.get_order(order_id=order_id))
        except RequestRejectedError as exc:
            if exc.status in (400, 404):
                return None
            raise
        return _open_order_info(found)

    async def trades(
        self, *, after_s: int | None = None, market: str | None = None, trade_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The account's trades as REST rows (newest first), optionally since `after_s` (unix s)."""
        paginator = self._client.list_account_trades(
            after=str(after_s) if after_s is not None else None, market=market, id=trade_id
        )
        rows: list[dict[str, Any]] = []
        page = await self._call("GET", "/data/trades", paginator.first_page)
        while True:
            rows.extend(trade_row(t) for t in page.items)
            if not page.has_more or page.next_cursor is None or page.limit_reached:
                return rows
            page = await self._call("GET", "/data/trades", paginator.from_cursor(page.next_cursor).first_page)

    async def trades_since(self, since_s: int) -> list[dict[str, Any]]:
        """Backfill hook for the user stream."""
        return await self.trades(after_s=since_s)

    async def balance(self, token_id: str | None = None) -> int:
        """pUSD (token_id None) or shares of `token_id`, in 1e-6 base units."""
        client = self._client
        if token_id is None:
            result = await self._call(
                "GET", "/balance-allowance", lambda: client.get_balance_allowance(asset_type="COLLATERAL")
            )
        else:
            asset_type = "CONDITIONAL-V2" if _is_position_id(int(token_id)) else "CONDITIONAL"
            result = await self._call(
                "GET",
                "/balance-allowance",
                lambda: client.get_balance_allowance(asset_type=asset_type, token_id=token_id),
            )
        return int(result.balance)

    async def allowances(self) -> dict[str, int]:
        """pUSD allowances by spender (the exchanges need them to trade)."""
        client = self._client
        result = await self._call(
            "GET", "/balance-allowance", lambda: client.get_balance_allowance(asset_type="COLLATERAL")
        )
        return dict(result.allowances)

    # --- heartbeats -------------------------------------------------------------------------------------

    async def heartbeat(self) -> str:
        """Send one order heartbeat (dead-man switch). Once the first is accepted the exchange cancels all
        this key's orders if none follows within ~10 s, so call it every ~5 s only while healthy."""
        client = self._client
        async with self._heartbeat_lock:
            try:
                hb = await self._call(
                    "POST",
                    "/v1/heartbeats",
                    lambda: client.send_order_heartbeat(heartbeat_id=self._heartbeat_id),
                )
            except OrderHeartbeatMismatchError as exc:
                # A lost response rotated the id; the exchange says which one it expects.
                self._heartbeat_id = exc.heartbeat_id
                hb = await self._call(
                    "POST",
                    "/v1/heartbeats",
                    lambda: client.send_order_heartbeat(heartbeat_id=self._heartbeat_id),
                )
            self._heartbeat_id = hb.heartbeat_id
            return hb.heartbeat_id


def _settled(hard: asyncio.TimerHandle) -> Callable[[asyncio.Future[Any]], None]:
    """Done-callback of a post: stop its hard-timeout timer and retrieve its outcome, which nobody may
    await once a resolution has decided without it."""

    def done(task: asyncio.Future[Any]) -> None:
        hard.cancel()
        if not task.cancelled():
            task.exception()

    return done


def _scrub(text: str, secret: str) -> str:
    bare = secret.removeprefix("0x")
    return text.replace(secret, "<redacted>").replace(bare, "<redacted>") if bare else text


__all__ = [
    "MAX_BATCH",
    "BatchTooLarge",
    "CancelResult",
    "GatewayError",
    "GatewayEvent",
    "GatewaySettings",
    "OpenOrderInfo",
    "OrderGateway",
    "PlaceResult",
    "PlaceStatus",
    "PreparedOrder",
    "order_id_of",
    "trade_row",
]
