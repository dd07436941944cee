"""Big Earn settings: typed, validated, immutable, with one-line errors.

Layers, lowest to highest priority:

1. built-in defaults (the field defaults below),
2. ``config.toml`` (repo root by default, or an explicit path),
3. environment variables ``BIGEARN_<SECTION>__<KEY>`` (e.g. ``BIGEARN_ENGINE__MODE``),
4. CLI overrides, passed in as a mapping of dotted keys (``{"engine.mode": "auto"}``).

The layering is done here rather than by pydantic-settings' own sources because every
error must say *where* the offending value came from (file, env var or flag); once the
sources are merged that provenance is gone. pydantic-settings still declares the naming
convention (``env_prefix`` / ``env_nested_delimiter`` on :class:`Settings`) that the env
layer follows, and pydantic does all of the value validation.

Secrets are never configuration: any key that looks like one in the TOML file is refused, the
credential variables (:data:`CREDENTIAL_ENV_VARS`) are left to the credentials code, and an error
never echoes a value that may be a secret (a long hex run, or anything given for an address field).
"""

import json
import math
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, cast, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = [
    "BRAIN_ENV_VARS",
    "CREDENTIAL_ENV_VARS",
    "MAX_USDC",
    "BankrollSettings",
    "BreakerSettings",
    "ConfigError",
    "CrashAction",
    "EngineSettings",
    "ExecutionSettings",
    "LogLevel",
    "LogSettings",
    "MarketStateSettings",
    "Mode",
    "OrderType",
    "RiskSettings",
    "Settings",
    "StoreSettings",
    "UiSettings",
    "VenueKind",
    "VenueSettings",
    "ZoneBand",
    "ZoneSettings",
    "default_config_path",
    "describe_keys",
    "load_settings",
]

Mode = Literal["semi", "auto", "observe"]
OrderType = Literal["GTC", "GTD", "FOK", "FAK"]
VenueKind = Literal["replay", "quotes", "sim", "polymarket"]
CrashAction = Literal["halt_cancel", "halt", "continue"]
ForeignOrders = Literal["cancel", "adopt", "halt"]
LogLevel = Literal["debug", "info", "warning", "error"]
RateTier = Literal["standard", "copper", "bronze", "silver", "gold", "platinum", "diamond", "elite"]

ENV_PREFIX = "BIGEARN_"
ENV_DELIMITER = "__"

# Substrings that mark a key as a secret. Matched case-insensitively, with '-' read as '_'.
SECRET_MARKERS = ("private_key", "secret", "passphrase", "api_key", "password", "mnemonic")

# The environment variables the live-credentials code (engine/venues/polymarket/keys.py) and the llm brain
# read. They share the BIGEARN_ prefix but are not settings: the loader neither refuses them nor keeps them.
CREDENTIAL_ENV_VARS = frozenset(
    {
        "BIGEARN_PRIVATE_KEY",
        "BIGEARN_FUNDER",
        "BIGEARN_API_KEY",
        "BIGEARN_API_SECRET",
        "BIGEARN_API_PASSPHRASE",
        "BIGEARN_KEYSTORE_PASSWORD",
    }
)
# The llm brain's endpoint (engine/brains/llm.py): read by that brain alone, like the credentials.
BRAIN_ENV_VARS = frozenset({"BIGEARN_LLM_URL", "BIGEARN_LLM_MODEL", "BIGEARN_LLM_API_KEY"})

# Far above any real bankroll or limit, and far below where a Decimal -> float or int conversion overflows.
MAX_USDC = 10**12

_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S
_YEAR_H = 365 * 24
_MAX_COUNT = 10_000
_MAX_LATENCY_MS = 60_000
_SQLITE_MAX_INT = 2**63 - 1  # the seed is stored with each run
_JSON_SAFE_INT = 2**53 - 1

_MAX_REPR = 60
_USDC_DECIMALS = 6

# A run of hex (or decimal) digits this long may be a private key, an API secret or a key pasted as an
# integer: such a value is described, never echoed. A 64-digit run is a private key's exact shape.
_LONG_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_KEY_SHAPE = re.compile(r"\s*(0[xX])?[0-9a-fA-F]{64}\s*")
_KEY_HINT = "this looks like a private key: never put a key in config"


class ConfigError(Exception):
    """Invalid configuration. ``str(err)`` is always a single line naming the first problem.

    ``problems`` holds every problem found (first one first), for callers that want to list them all.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        source: str | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        line = _one_line(message)
        super().__init__(line)
        self.key = key
        self.source = source
        self.problems: tuple[str, ...] = tuple(_one_line(p) for p in problems) or (line,)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"{len(value)} characters"
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return f"an integer of {len(str(abs(value)))} digits"
        except ValueError:  # beyond Python's int -> str limit
            return "an integer of thousands of digits"
    return f"a {type(value).__name__}"


def _shown(value: Any, *, hide: bool = False) -> str:
    """The value as an error may show it: a short repr, or only its length and shape when it may be a
    secret (a long run of hex digits) or when `hide` (fields that expect an address)."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long for str(): certainly not something to print
        return f"<{_describe(value)}, not shown>"
    if hide or _LONG_HEX.search(text):
        return f"<{_describe(value)}, not shown>"
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _looks_like_key(value: Any) -> bool:
    return isinstance(value, str) and _KEY_SHAPE.fullmatch(value) is not None


def _name(text: str) -> str:
    """A key or variable name as an error may show it: long hex runs (a key pasted as a name) hidden."""
    return _LONG_HEX.sub(lambda m: f"<{len(m.group())} hex digits, not shown>", text)


def _is_secret_name(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(marker in lowered for marker in SECRET_MARKERS)


# --------------------------------------------------------------------------------------------
# Value parsers that pydantic's built-in coercion gets wrong for us.


def _parse_usdc(value: Any) -> Any:
    """Exact USDC amount: str/int/Decimal as given; a float only if it has <= 6 decimals.

    Floats go through ``repr`` (shortest round-trip form) so TOML's ``1000.1`` becomes
    ``Decimal('1000.1')`` rather than the binary expansion ``1000.1000000000000227...``.
    Anything we cannot read is handed on unchanged so pydantic reports it as a type error.
    MAX_USDC is checked here, before ``normalize()`` meets a huge exponent; the sign bound by the field.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        value = repr(value)
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("not a decimal number") from None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("not finite")
        if value.copy_abs() > MAX_USDC:
            raise ValueError("too large")
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -_USDC_DECIMALS:
            raise ValueError("more than 6 decimal places")
        if value.is_zero():
            value = value.copy_abs()  # "-0" is 0
    return value


MIN_SPEED = 0.001
MAX_SPEED = 1_000_000


def _parse_speed(value: Any) -> float | str:
    """Replay speed: the word "max" (as fast as possible) or a multiplier in [MIN_SPEED, MAX_SPEED], stored
    as float. Below the floor a recorded second becomes so many wall seconds that timers overflow."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a speed")
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "max":
            return "max"
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number") from None
    elif isinstance(value, int | float | Decimal):
        number = float(value)
    else:
        raise ValueError("not a number")
    if not math.isfinite(number) or not MIN_SPEED <= number <= MAX_SPEED:
        raise ValueError("out of range")
    return number


Usdc = Annotated[Decimal, BeforeValidator(_parse_usdc)]
Speed = Annotated[float | Literal["max"], PlainValidator(_parse_speed)]


# --------------------------------------------------------------------------------------------
# Field helpers: each one sets the constraint *and* writes the matching human sentence, so the
# "accepted: ..." text in errors can never drift from what is actually enforced.


def _bounds(
    noun: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> str:
    parts = [
        f"{op} {bound}" for op, bound in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if bound is not None
    ]
    return f"{noun} {' and '.join(parts)}" if parts else noun


def _number(
    default: float,
    doc: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> Any:
    # Every number has an upper bound: a huge value overflows when turned into ms or an int later.
    assert lt is not None or le is not None, "a setting without an upper bound"
    return Field(
        default,
        description=doc,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        allow_inf_nan=False,
        json_schema_extra={"accepted": _bounds("a number", gt=gt, ge=ge, lt=lt, le=le)},
    )


def _integer(default: int, doc: str, *, gt: int | None = None, ge: int | None = None, le: int) -> Any:
    return Field(
        default,
        description=doc,
        gt=gt,
        ge=ge,
        le=le,
        json_schema_extra={"accepted": _bounds("an integer", gt=gt, ge=ge, le=le)},
    )


def _usdc(default: str, doc: str, *, gt: int | None = None, ge: int | None = None) -> Any:
    noun = _bounds("a finite amount of USDC", gt=gt, ge=ge, le=MAX_USDC)
    return Field(
        Decimal(default),
        description=doc,
        gt=gt,
        ge=ge,
        le=MAX_USDC,
        json_schema_extra={"accepted": f"{noun} with at most 6 decimals"},
    )


def _choice(default: str, options: Any, doc: str) -> Any:
    listed = ", ".join(repr(option) for option in get_args(options))
    return Field(default, description=doc, json_schema_extra={"accepted": f"one of {listed}"})


def _flag(default: bool, doc: str) -> Any:
    return Field(default, description=doc, json_schema_extra={"accepted": "true or false (1 or 0 in env)"})


def _text(default: str, doc: str, accepted: str = "a string", **constraints: Any) -> Any:
    return Field(default, description=doc, json_schema_extra={"accepted": accepted}, **constraints)


def _address(doc: str) -> Any:
    # "hidden": an error about this field shows only the value's length; a wrong value here is often a
    # key pasted into the wrong place.
    return Field(
        "",
        description=doc,
        pattern=r"^(0x[0-9a-fA-F]{40})?$",
        json_schema_extra={"accepted": 'a 0x address of 40 hex digits, or ""', "hidden": True},
    )


def _table(doc: str, accepted: str) -> Any:
    return Field(default_factory=dict, description=doc, json_schema_extra={"accepted": accepted})


_HTTP_URL = r"^https?://\S+$"
_WS_URL = r"^wss?://\S+$"


# --------------------------------------------------------------------------------------------
# Sections. strict=True: TOML is typed, so `seed = "7"` or `live = 1` is a mistake worth
# reporting, not something to guess at. Env and CLI strings are coerced before validation.


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_pasted_key(cls, value: Any, info: ValidationInfo) -> Any:
        # Settings are logged and stored with every run, so a private key pasted into a text setting (a
        # keystore path, say) would end up there. Condition ids have a key's shape: fields listing them
        # are exempt.
        if _looks_like_key(value) and info.field_name is not None:
            extra = cls.model_fields[info.field_name].json_schema_extra
            if not (isinstance(extra, dict) and extra.get("hex_ids")):
                raise ValueError("a private key")
        return value


class EngineSettings(_Section):
    """How the engine runs: mode, timing, and how many markets it watches."""

    mode: Mode = _choice(
        "semi", Mode, "semi: you confirm each proposal; auto: orders go out; observe: no orders"
    )
    seed: int = _integer(7, "random seed for replay/sim determinism", ge=0, le=_SQLITE_MAX_INT)
    cycle_interval_s: float = _number(5.0, "seconds between evaluations of active markets", gt=0, le=_DAY_S)
    reconciliation_interval_s: float = _number(
        900.0, "seconds between reconciliations with the venue", gt=0, le=_DAY_S
    )
    pnl_snapshot_interval_s: float = _number(60.0, "seconds between PnL snapshots", gt=0, le=_DAY_S)
    # At least one snapshot every 10 s: below that the screen would look frozen.
    publish_hz: float = _number(20.0, "max read-model snapshots per second for the UI", ge=0.1, le=60)
    snapshot_market_slice: int = _integer(
        25,
        "market rows rebuilt per snapshot, round robin (held/worked markets always); 0 = all",
        ge=0,
        le=_MAX_COUNT,
    )
    proposal_ttl_s: float = _number(30.0, "seconds before a pending proposal expires", gt=0, le=_DAY_S)
    max_active_markets: int = _integer(40, "markets evaluated at once", ge=1, le=_MAX_COUNT)
    warmup_s: float = _number(
        30.0, "seconds of book history required before a market is evaluated", ge=0, le=_DAY_S
    )


class BankrollSettings(_Section):
    """Paper/replay bankroll (live bankroll comes from the venue)."""

    starting_usdc: Usdc = _usdc("1000", "starting paper/replay bankroll in USDC", gt=0)


class RiskSettings(_Section):
    """Sizing and entry filters."""

    kelly_fraction: float = _number(0.25, "fraction of full Kelly stake", gt=0, le=1)
    max_ci_width: float = _number(0.40, "widest probability confidence interval still traded", gt=0, le=1)
    min_edge: float = _number(0.02, "min net edge after spread and fees (probability units)", ge=0, lt=1)
    min_depth_usdc: float = _number(500.0, "visible depth near mid required, USDC", ge=0, le=MAX_USDC)
    max_position_pct: float = _number(0.10, "per-position cap, share of bankroll", gt=0, le=1)
    max_open_positions: int = _integer(10, "max simultaneously open positions", ge=1, le=_MAX_COUNT)
    max_book_impact_pct: float = _number(0.10, "share of visible depth one order may take", gt=0, le=1)
    max_cluster_pct: float = _number(0.12, "cap per keyword cluster, share of bankroll", gt=0, le=1)
    max_aggregate_pct: float = _number(0.40, "cap on total exposure, share of bankroll", gt=0, le=1)
    min_order_usdc: Usdc = _usdc("1", "smallest marketable order, USDC", ge=0)
    reduce_only: bool = _flag(False, "only orders that reduce existing positions")
    cluster_keywords: dict[str, list[str]] = _table(
        "cluster name -> keywords that put a market in it",
        "a table of cluster name -> list of keyword strings (a JSON object in env)",
    )


class BreakerSettings(_Section):
    """Circuit breakers that halt trading."""

    max_daily_loss_pct: float = _number(
        0.05, "daily loss that trips the breaker, share of bankroll", gt=0, le=1
    )
    max_weekly_loss_pct: float = _number(
        0.10, "weekly loss that trips the breaker, share of bankroll", gt=0, le=1
    )
    max_drawdown_pct: float = _number(0.15, "peak-to-trough drawdown that trips the breaker", gt=0, le=1)
    max_consecutive_losses: int = _integer(
        5, "losing trades in a row that trip the breaker", ge=1, le=_MAX_COUNT
    )
    rolling_loss_window_s: float = _number(
        300.0, "window for rolling loss and rejection counts, seconds", gt=0, le=_WEEK_S
    )
    max_rolling_loss_usdc: Usdc = _usdc(
        "50", "loss within the rolling window that trips the breaker, USDC", gt=0
    )
    cooldown_s: float = _number(3600.0, "seconds a tripped breaker stays tripped", ge=0, le=_WEEK_S)
    stale_feed_s: float = _number(30.0, "seconds after which a book is stale", gt=0, le=_DAY_S)
    max_rejections: int = _integer(
        5, "venue rejections within the rolling window that trip the breaker", ge=1, le=_MAX_COUNT
    )
    kill_switch_file: str = _text(
        "KILL_SWITCH",
        "if this file exists, trading halts; relative to the config file's directory",
        "a non-empty file path",
        min_length=1,
    )
    stale_feed_global_s: float = _number(
        30.0,
        "seconds without any current market data before everything pauses and all orders are cancelled",
        gt=0,
        le=_DAY_S,
    )
    fill_rate_window: int = _integer(
        20, "fill-rate breaker: the last N finished orders it looks at", ge=1, le=_MAX_COUNT
    )
    fill_rate_min_orders: int = _integer(
        10, "fill-rate breaker: no verdict on fewer finished orders", ge=1, le=_MAX_COUNT
    )
    max_reconcile_mismatches: int = _integer(
        0,
        "reconciliation mismatches tolerated before trading halts until a human resumes",
        ge=0,
        le=_MAX_COUNT,
    )
    reconcile_interval_s: float = _number(
        60.0,
        "seconds between reconciliations of positions and resting orders with the venue; 0 = never",
        ge=0,
        le=_DAY_S,
    )
    rolling_loss_cooldown_s: float = _number(
        900.0, "cooldown of the rolling-loss breaker, seconds", ge=0, le=_WEEK_S
    )
    reduce_only_on_trip: bool = _flag(
        False, "loss and quality breakers still let orders through that only shrink positions"
    )


class ExecutionSettings(_Section):
    """Order placement and upkeep."""

    max_slippage_bps: float = _number(
        50.0, "max slippage from the reference price, basis points", ge=0, le=10_000
    )
    stale_order_s: float = _number(
        3600.0, "seconds after which a resting order is cancelled", gt=0, le=_WEEK_S
    )
    min_fill_rate: float = _number(0.60, "fill rate below which execution is flagged", ge=0, le=1)
    default_order_type: OrderType = _choice(
        "GTC", OrderType, "order type used unless a strategy asks otherwise"
    )
    gtd_lifetime_s: int = _integer(300, "lifetime of GTD orders, seconds", gt=0, le=_WEEK_S)
    gtd_security_buffer_s: int = _integer(
        60, "extra seconds the venue requires on GTD expiries", ge=60, le=3600
    )
    mutation_budget_per_min: int = _integer(60, "max order placements + cancels per minute", ge=1, le=100_000)
    batch_max: int = _integer(15, "max orders per batch request", ge=1, le=15)
    # 10 000 ticks of the finest tick (0.0001) span the whole price range.
    requote_min_ticks: int = _integer(
        2, "min price move in ticks before a resting order is requoted", ge=0, le=10_000
    )
    mutation_cancel_reserve: int = _integer(
        0, "part of the mutation budget new orders may not use, kept for cancels", ge=0, le=100_000
    )


def _check_ratchet(steps: list[list[float]], unit: str, most: int) -> list[list[float]]:
    for step in steps:
        # Written as "not in range" so that nan, which fails every comparison, is refused too.
        if len(step) != 2 or not 0 <= step[0] <= most or not 0 <= step[1] <= 1:
            raise ValueError(f"each step is [{unit} to close in [0, {most}], multiplier in [0, 1]]")
    return steps


_RATCHET_ACCEPTED = (
    "a list of [{unit} to close in [0, {most}], size multiplier in [0, 1]] pairs (a JSON array in env)"
)


class MarketStateSettings(_Section):
    """Where a market is in its life (NORMAL -> WATCH -> CLOSE_WINDOW -> CLOSED -> RESOLVING -> RESOLVED) and
    how much new risk it may take there."""

    watch_h: float = _number(72.0, "hours to close at which a market enters WATCH", ge=0, le=_YEAR_H)
    close_window_h: float = _number(
        24.0, "hours to close at which new maker quotes stop (CLOSE_WINDOW)", ge=0, le=_YEAR_H
    )
    ratchet: list[list[float]] = Field(
        default_factory=lambda: [[72.0, 0.75], [24.0, 0.5], [6.0, 0.25]],
        description="size multiplier on new risk from N hours to close; the smallest that applies wins",
        json_schema_extra={"accepted": _RATCHET_ACCEPTED.format(unit="hours", most=_YEAR_H)},
    )
    proposal_delay_h: float = _number(
        2.0, "hours after close the resolution proposal is expected", ge=0, le=_YEAR_H
    )
    dispute_window_h: float = _number(2.0, "hours a resolution proposal can be disputed", ge=0, le=_YEAR_H)
    short_close_window_s: float = _number(
        60.0,
        "markets that live less than watch_h (e.g. 15-minute up/down): seconds of CLOSE_WINDOW, no WATCH",
        ge=0,
        le=_DAY_S,
    )
    short_ratchet: list[list[float]] = Field(
        default_factory=lambda: [[60.0, 0.5]],
        description="short-lived markets: size multiplier on new risk from N seconds to close",
        json_schema_extra={"accepted": _RATCHET_ACCEPTED.format(unit="seconds", most=_DAY_S)},
    )

    @field_validator("ratchet")
    @classmethod
    def _ratchet_hours(cls, v: list[list[float]]) -> list[list[float]]:
        return _check_ratchet(v, "hours", _YEAR_H)

    @field_validator("short_ratchet")
    @classmethod
    def _ratchet_seconds(cls, v: list[list[float]]) -> list[list[float]]:
        return _check_ratchet(v, "seconds", _DAY_S)


class ZoneBand(_Section):
    """One price zone: the token prices it covers and the strategies that may buy there."""

    low: float = Field(ge=0, le=1, allow_inf_nan=False)
    high: float = Field(ge=0, le=1, allow_inf_nan=False)
    strategies: list[str] = Field(default_factory=list)
    directional: bool = True
    min_directional_prob: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


def _default_bands() -> dict[str, ZoneBand]:
    return {
        "zone_1": ZoneBand(low=0.05, high=0.20, strategies=["tail_risk", "contrarian", "value_betting", "manual"]),
        "zone_2": ZoneBand(
            low=0.20, high=0.40, strategies=["value_betting", "news_scalping", "copy_trading", "manual"]
        ),
        "zone_3": ZoneBand(
            low=0.40,
            high=0.60,
            strategies=["arbitrage", "market_making", "value_betting", "manual"],
            min_directional_prob=0.52,
        ),
        "zone_4": ZoneBand(low=0.60, high=0.80, strategies=["market_making", "arbitrage", "manual"], directional=False),
        "zone_5": ZoneBand(low=0.80, high=0.98, strategies=["internal_arbitrage"], directional=False),
    }


class ZoneSettings(_Section):
    """Price zones: which strategies may buy a token at which price."""

    strategy: str = _text(
        "value_betting", "the strategy the Kelly sizer's trades count as", "a strategy name", min_length=1
    )
    directional: list[str] = Field(
        default_factory=lambda: ["value_betting", "tail_risk", "contrarian", "news_scalping", "copy_trading"],
        description="strategies that take a view on the outcome (directional bets)",
        json_schema_extra={"accepted": "a list of strategy names (a JSON array in env)"},
    )
    outside: list[str] = Field(
        default_factory=list,
        description="strategies that may still buy below the lowest or above the highest zone",
        json_schema_extra={"accepted": "a list of strategy names (a JSON array in env)"},
    )
    bands: dict[str, ZoneBand] = Field(
        default_factory=_default_bands,
        description="zone name -> {low, high, strategies, directional, min_directional_prob}",
        json_schema_extra={
            "accepted": "a table of zone name -> {low < high in [0, 1], strategies = [...], directional = true|false, "
            "min_directional_prob = p}, zones not overlapping (a JSON object in env)"
        },
    )

    @field_validator("bands")
    @classmethod
    def _bands_apart(cls, v: dict[str, ZoneBand]) -> dict[str, ZoneBand]:
        spans = sorted((b.low, b.high, name) for name, b in v.items())
        for low, high, name in spans:
            if not low < high:
                raise ValueError(f"zone {name}: low must be below high")
        for (_, high_a, a), (low_b, _, b) in zip(spans, spans[1:], strict=False):
            if low_b < high_a:
                raise ValueError(f"zones {a} and {b} overlap")
        return v


class VenueSettings(_Section):
    """Where orders go and where data comes from."""

    kind: VenueKind = _choice(
        "replay",
        VenueKind,
        "replay: recorded books; quotes: recorded top-of-book quotes with outcomes; sim: simulated; "
        "polymarket: real venue",
    )
    live: bool = _flag(False, "must be true, together with kind = polymarket, to send real orders")
    data: str = _text(
        "", 'replay books file, or the quotes file with kind = quotes; "" = bundled data', 'a file path, or "" for bundled data'
    )
    markets: str = _text("", 'replay markets file; "" = bundled data', 'a file path, or "" for bundled data')
    labels: str = _text(
        "", "quotes: the settled outcomes (slug,y,question[,category] CSV, optionally gzip)", 'a file path, or ""'
    )
    quote_depth: int = _integer(
        100, "quotes: shares assumed at the quoted bid and at the quoted ask (the data has no depth)", ge=1, le=10**9
    )
    speed: Speed = Field(
        1.0,
        description='replay speed multiplier; "max" = as fast as possible',
        json_schema_extra={"accepted": f'a number >= {MIN_SPEED} and <= {MAX_SPEED} or "max"'},
    )
    sim_markets: int = _integer(12, "sim: synthetic markets per round", ge=1, le=500)
    sim_rounds: int = _integer(
        4, "sim: rounds of markets, each one market lifetime (15 min) after the last", ge=1, le=10_000
    )
    submit_latency_ms: int = _integer(150, "simulated order submit latency, ms", ge=0, le=_MAX_LATENCY_MS)
    cancel_latency_ms: int = _integer(100, "simulated cancel latency, ms", ge=0, le=_MAX_LATENCY_MS)
    latency_jitter_ms: int = _integer(
        50, "random jitter added to simulated latencies, ms", ge=0, le=_MAX_LATENCY_MS
    )
    clob_url: str = _text(
        "https://clob.polymarket.com", "CLOB REST endpoint", "an http(s):// URL", pattern=_HTTP_URL
    )
    gamma_url: str = _text(
        "https://gamma-api.polymarket.com", "market metadata endpoint", "an http(s):// URL", pattern=_HTTP_URL
    )
    data_api_url: str = _text(
        "https://data-api.polymarket.com",
        "positions/trades data endpoint",
        "an http(s):// URL",
        pattern=_HTTP_URL,
    )
    ws_market_url: str = _text(
        "wss://ws-subscriptions-clob.polymarket.com/ws/market",
        "market websocket",
        "a ws(s):// URL",
        pattern=_WS_URL,
    )
    ws_user_url: str = _text(
        "wss://ws-subscriptions-clob.polymarket.com/ws/user",
        "user websocket",
        "a ws(s):// URL",
        pattern=_WS_URL,
    )
    chain_id: int = _integer(137, "EVM chain id (137 = Polygon mainnet)", gt=0, le=_JSON_SAFE_INT)
    signature_type: int = _integer(3, "order signature type expected by the CLOB", ge=0, le=3)
    keystore: str = _text(
        "", "encrypted keystore file; the key itself is never in config", 'a file path, or ""'
    )
    foreign_orders: ForeignOrders = _choice(
        "cancel",
        ForeignOrders,
        "at a restart, orders working at the venue that the ledger does not know: cancel them, adopt them as "
        "the engine's, or halt until a human looks",
    )


class PolymarketSettings(_Section):
    """`--venue polymarket`: which live markets to watch, and the account that trades them with `--live`."""

    max_markets: int = _integer(30, "markets to watch, best ranked by liquidity then volume", ge=1, le=2000)
    min_liquidity_usdc: Usdc = _usdc("0", "skip markets with less Gamma liquidity than this, USDC", ge=0)
    categories: str = _text(
        "", 'comma-separated Gamma categories to keep; "" = every category', 'a comma-separated list, or ""'
    )
    include_markets: str = Field(
        "",
        description="comma-separated condition ids, slugs or Gamma ids always watched",
        json_schema_extra={"accepted": 'a comma-separated list, or ""', "hex_ids": True},
    )
    ws_ping_interval_s: float = _number(10.0, "market/user WebSocket PING interval, seconds", gt=0, le=60)
    relayer_url: str = _text(
        "https://relayer-v2.polymarket.com",
        "relayer (deposit-wallet checks)",
        "an http(s):// URL",
        pattern=_HTTP_URL,
    )
    funder: str = _address('wallet holding the funds (deposit wallet or proxy); "" = the signer itself')
    rate_limit_tier: RateTier = _choice("standard", RateTier, "the account's trading rate-limit tier")
    heartbeat_interval_s: float = _number(
        5.0, "dead-man heartbeat interval (the venue cancels after 10 s)", gt=0, lt=10
    )


class StoreSettings(_Section):
    """Persistence."""

    path: str = _text("bigearn.db", "SQLite database file", "a non-empty file path", min_length=1)


class UiSettings(_Section):
    """Terminal UI."""

    refresh_hz: float = _number(5.0, "screen refreshes per second", ge=0.1, le=60)
    crash_action: CrashAction = _choice(
        "halt_cancel", CrashAction, "if the UI crashes: halt and cancel orders, halt only, or keep running"
    )
    keymap: dict[str, str] = _table(
        "binding id -> key", "a table of binding id -> key string (a JSON object in env)"
    )
    control_socket: str = _text(
        "",
        'control socket path; "" = $XDG_RUNTIME_DIR/bigearn.sock or /tmp/bigearn-<uid>.sock',
        'a socket path, or "" for the default',
    )
    bell: bool = _flag(True, "ring the terminal bell on a new proposal, a halt, a breaker trip or an error")


class ReportSettings(_Section):
    """The truth report (`bigearn-tui report`, the Report screen) and the daily reports a running engine writes."""

    dir: str = _text(
        "reports",
        'folder for the daily reports (YYYY-MM-DD.json at each UTC midnight), relative to this file; "" = none',
        'a folder path, or "" for no daily reports',
    )
    stress_fee_multiple: float = _number(
        2.0, "gate A's cost stress: each fill pays its fee this many times", ge=1, le=10
    )
    stress_cents: float = _number(0.5, "gate A's cost stress: cents a share each fill pays on top", ge=0, le=10)


class LogSettings(_Section):
    """Logging."""

    level: LogLevel = _choice("info", LogLevel, "minimum level written")
    file: str = _text("", 'log file; "" = stderr', 'a file path, or "" for stderr')


class Settings(BaseSettings):
    """All product settings. Build it with :func:`load_settings`; ``Settings()`` is the defaults."""

    # env_prefix / env_nested_delimiter document the env naming the loader implements.
    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER
    )

    engine: EngineSettings = Field(default_factory=EngineSettings)
    bankroll: BankrollSettings = Field(default_factory=BankrollSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    breakers: BreakerSettings = Field(default_factory=BreakerSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    market_state: MarketStateSettings = Field(default_factory=MarketStateSettings)
    zones: ZoneSettings = Field(default_factory=ZoneSettings)
    venue: VenueSettings = Field(default_factory=VenueSettings)
    polymarket: PolymarketSettings = Field(default_factory=PolymarketSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    # [strategies.<name>] tables: each strategy's validated config (engine.strategies.registry lists them).
    strategies: dict[str, Any] = Field(default_factory=lambda: _strategy_defaults())

    # Where the settings were loaded from; not a setting, so not dumped and not compared.
    _config_path: Path | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only explicit arguments: Settings() must not silently read os.environ or a .env file;
        # load_settings() owns the layering so it can report where each bad value came from.
        return (init_settings,)

    def __eq__(self, other: object) -> bool:
        # Equal when every setting is equal, wherever it was loaded from (pydantic's default
        # would also compare the private load location).
        if not isinstance(other, Settings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # sections hold dicts, so never hashable anyway

    @field_validator("strategies", mode="before")
    @classmethod
    def _typed_strategies(cls, value: Any) -> dict[str, Any]:
        """Every available strategy gets its config (defaults unless a table says otherwise)."""
        if not isinstance(value, Mapping):
            raise ValueError("strategies: accepted: a table of strategy name -> its settings")
        merged = _strategy_defaults()
        for name, table in value.items():
            model = _strategy_model(name)
            if model is None:
                raise ValueError(
                    f"strategies.{_name(str(name))}: unknown strategy; available: {', '.join(merged)}"
                )
            merged[name] = table if isinstance(table, model) else model.model_validate(table)
        return merged

    @model_validator(mode="after")
    def _budgets_fit(self) -> "Settings":
        problem = _budget_problem(self.strategies)
        if problem is not None:
            raise ValueError(problem)
        return self

    def enabled_strategies(self) -> list[str]:
        """Names of the strategies this run starts, in the registry's order."""
        return [name for name, cfg in self.strategies.items() if cfg.enabled]

    @property
    def config_path(self) -> Path | None:
        """The config file these settings were read from, or None (defaults only / built directly)."""
        return self._config_path

    @property
    def reports_dir(self) -> Path | None:
        """Where daily reports go (relative to the config file's directory), None when switched off."""
        if not self.reports.dir:
            return None
        path = Path(self.reports.dir).expanduser()
        if path.is_absolute():
            return path
        return (self._base_dir if self._base_dir is not None else Path.cwd()) / path

    @property
    def kill_switch_path(self) -> Path:
        """Absolute kill-switch path: relative values resolve against the config file's directory,
        else the working directory at load time (or now, for a Settings built directly)."""
        path = Path(self.breakers.kill_switch_file).expanduser()
        if path.is_absolute():
            return path
        return (self._base_dir if self._base_dir is not None else Path.cwd()) / path


# --------------------------------------------------------------------------------------------
# Introspection helpers.


def _sections() -> dict[str, type[_Section]]:
    return {
        name: cast(type[_Section], field.annotation)
        for name, field in Settings.model_fields.items()
        if name != STRATEGIES
    }


def _accepted(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("accepted"), str):
        return str(extra["accepted"])
    raise AssertionError("every setting declares its accepted text")  # pragma: no cover


def _is_hidden(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("hidden") is True


def _default(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


def describe_keys() -> list[tuple[str, str, str]]:
    """(dotted key, default repr, accepted text) for every setting, in declaration order."""
    rows: list[tuple[str, str, str]] = []
    for section, model in _sections().items():
        for key, field in model.model_fields.items():
            rows.append((f"{section}.{key}", repr(_default(field)), _accepted(field)))
    return rows


def default_config_path() -> Path:
    """The repo-root config.toml (next to the ``engine`` package) if present, else ./config.toml."""
    repo_config = Path(__file__).resolve().parent.parent / "config.toml"
    return repo_config if repo_config.is_file() else Path.cwd() / "config.toml"


# --------------------------------------------------------------------------------------------
# Loading.


@dataclass(frozen=True)
class _Problem:
    key: str
    source: str
    message: str


@dataclass(frozen=True)
class _Value:
    value: Any
    source: str


# --------------------------------------------------------------------------------------------
# Strategies: their settings models live with each strategy (engine.strategies.registry); imported when
# settings are validated, so a strategy module may itself use engine.config.

STRATEGIES = "strategies"


def _strategy_classes() -> Mapping[str, Any]:
    from engine.strategies.registry import AVAILABLE

    return AVAILABLE


def _strategy_defaults() -> dict[str, Any]:
    return {name: cls.Config() for name, cls in _strategy_classes().items()}


def _strategy_model(name: str) -> Any:
    cls = _strategy_classes().get(name)
    return None if cls is None else cls.Config


def _budget_problem(configs: Mapping[str, Any]) -> str | None:
    from engine.strategies.base import budgets_problem

    return budgets_problem({name: cfg.budget_pct for name, cfg in configs.items() if cfg.enabled})


def _strategy_key(name: str, key: str, source: str) -> _Problem | None:
    """None if strategies.<name>.<key> exists, else why not."""
    classes = _strategy_classes()
    if name not in classes:
        shown = _name(f"{STRATEGIES}.{name}")
        return _Problem(
            shown, source, f"{shown} (from {source}): unknown strategy; available: {', '.join(classes)}"
        )
    fields = classes[name].Config.model_fields
    if key in fields:
        return None
    shown = _name(f"{STRATEGIES}.{name}.{key}")
    return _Problem(
        shown,
        source,
        f"{shown} (from {source}): unknown key; accepted keys in [{STRATEGIES}.{name}]: {', '.join(fields)}",
    )


def _coerce_strategy_text(name: str, key: str, text: str) -> Any:
    annotation = _strategy_classes()[name].Config.model_fields[key].annotation
    return _coerce_as(annotation, text)


def _validate_strategies(
    tables: dict[str, dict[str, _Value]], problems: list[_Problem]
) -> dict[str, Any] | None:
    """Each strategy's table through its own model: one problem per bad key, naming it and what is accepted."""
    out: dict[str, Any] = {}
    for name, items in tables.items():
        model = _strategy_model(name)
        try:
            out[name] = model.model_validate({k: v.value for k, v in items.items()})
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else "?"
                item = items.get(key)
                field = model.model_fields.get(key)
                if item is None or field is None:  # pragma: no cover - keys are checked when read
                    problems.append(_Problem(f"{STRATEGIES}.{name}", "?", _one_line(str(error["msg"]))))
                    continue
                extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                dotted = f"{STRATEGIES}.{name}.{key}"
                problems.append(
                    _Problem(
                        dotted,
                        item.source,
                        f"{dotted} = {_shown(item.value)} (from {item.source}): accepted: {extra.get('accepted', '')}",
                    )
                )
    if problems:
        return None
    merged = _strategy_defaults()
    merged.update(out)
    problem = _budget_problem(merged)
    if problem is not None:
        sources = sorted({v.source for items in tables.values() for v in items.values()})
        problems.append(_Problem(STRATEGIES, ", ".join(sources) or "defaults", problem))
        return None
    return merged


def _unknown_section(section: str, source: str) -> _Problem:
    shown = _name(section)
    return _Problem(
        shown,
        source,
        f"{shown} (from {source}): unknown section; accepted sections: {', '.join([*_sections(), STRATEGIES])}",
    )


def _unknown_key(section: str, key: str, source: str) -> _Problem | None:
    """None if section.key exists, else the problem describing why it does not."""
    sections = _sections()
    if section not in sections:
        return _unknown_section(section, source)
    fields = sections[section].model_fields
    if key in fields:
        return None
    shown = _name(f"{section}.{key}")
    return _Problem(
        shown,
        source,
        f"{shown} (from {source}): unknown key; accepted keys in [{section}]: {', '.join(fields)}",
    )


def _coerce_text(section: str, key: str, text: str) -> Any:
    """Read an env/CLI string the way TOML would have typed it, guided by the target field.

    Whatever cannot be read is returned unchanged, so validation reports it with the field's
    accepted text instead of a parser message.
    """
    return _coerce_as(_sections()[section].model_fields[key].annotation, text)


def _coerce_as(annotation: Any, text: str) -> Any:
    stripped = text.strip()
    if annotation is bool:
        return {"true": True, "1": True, "false": False, "0": False}.get(stripped.lower(), text)
    if annotation is int:
        try:
            return int(stripped)
        except ValueError:
            return text
    if annotation is float:
        try:
            return float(stripped)
        except ValueError:
            return text
    if get_origin(annotation) in (dict, list):
        try:
            return json.loads(text)
        except ValueError:
            return text
    # str, Literal choices, Decimal amounts (must stay exact) and speed take the text as is.
    return text


def _walk_keys(node: Any, prefix: str) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            yield dotted
            yield from _walk_keys(value, dotted)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk_keys(item, f"{prefix}[{index}]")


def _read_file(path: Path, layer: dict[tuple[str, str], _Value], problems: list[_Problem]) -> None:
    source = f"config.toml {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        # TOMLDecodeError, or the ValueError int() raises for an integer of more than 4300 digits. The
        # parser quotes a duplicated table's name, which could be a pasted key.
        raise ConfigError(f"{path}: invalid TOML: {_name(str(exc))}", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}", source=source) from None

    # Secrets first, and fatally: later messages may echo values, and a secret's must never be.
    secret_problems = [
        _Problem(
            _name(dotted),
            source,
            f"{_name(dotted)} (from {source}): secrets are never read from config.toml; "
            "provide them via the environment or the encrypted keystore ([venue] keystore)",
        )
        for dotted in _walk_keys(data, "")
        if _is_secret_name(dotted.rsplit(".", 1)[-1])
    ]
    if secret_problems:
        _raise(secret_problems)

    sections = _sections()
    for section, table in data.items():
        if section == STRATEGIES:
            _read_strategy_tables(table, source, layer, problems)
            continue
        if section in sections and not isinstance(table, dict):
            problems.append(
                _Problem(
                    section,
                    source,
                    f"{section} = {_shown(table)} (from {source}): accepted: a [{section}] table of settings",
                )
            )
            continue
        if section not in sections:
            problems.append(_unknown_section(section, source))
            continue
        for key, value in table.items():
            unknown = _unknown_key(section, key, source)
            if unknown is not None:
                problems.append(unknown)
            else:
                layer[(section, key)] = _Value(value, source)


def _read_strategy_tables(
    table: Any, source: str, layer: dict[tuple[str, str], _Value], problems: list[_Problem]
) -> None:
    """`[strategies.<name>]` tables: each key lands in the layer as ("strategies", "<name>.<key>")."""
    if not isinstance(table, dict) or not all(isinstance(t, dict) for t in table.values()):
        problems.append(
            _Problem(
                STRATEGIES,
                source,
                f"{STRATEGIES} (from {source}): accepted: [{STRATEGIES}.<name>] tables of a strategy's settings"
                f" (available: {', '.join(_strategy_classes())})",
            )
        )
        return
    for name, keys in table.items():
        if not keys:
            unknown = _strategy_key(str(name), "enabled", source)
            if unknown is not None:
                problems.append(unknown)
        for key, value in keys.items():
            unknown = _strategy_key(str(name), str(key), source)
            if unknown is not None:
                problems.append(unknown)
            else:
                layer[(STRATEGIES, f"{name}.{key}")] = _Value(value, source)


def _read_env(env: Mapping[str, str], layer: dict[tuple[str, str], _Value], problems: list[_Problem]) -> None:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        if name in CREDENTIAL_ENV_VARS or name in BRAIN_ENV_VARS or _is_secret_name(name):
            # Credentials legitimately live in BIGEARN_* env vars; they are read by the keystore /
            # credentials code, never by config, so they are neither settings nor errors here.
            continue
        shown = _name(name)
        source = f"env {shown}"
        parts = name[len(ENV_PREFIX) :].split(ENV_DELIMITER)
        if len(parts) == 3 and parts[0].lower() == STRATEGIES and all(parts):
            sname, key = parts[1].lower(), parts[2].lower()
            unknown = _strategy_key(sname, key, source)
            if unknown is not None:
                problems.append(unknown)
            else:
                layer[(STRATEGIES, f"{sname}.{key}")] = _Value(
                    _coerce_strategy_text(sname, key, env[name]), source
                )
            continue
        if len(parts) != 2 or not all(parts):
            problems.append(
                _Problem(
                    shown,
                    source,
                    f"{shown} (from {source}): not a known setting; config env vars are named "
                    f"{ENV_PREFIX}<SECTION>{ENV_DELIMITER}<KEY>, e.g. {ENV_PREFIX}ENGINE{ENV_DELIMITER}MODE",
                )
            )
            continue
        section, key = parts[0].lower(), parts[1].lower()
        unknown = _unknown_key(section, key, source)
        if unknown is not None:
            problems.append(unknown)
        else:
            layer[(section, key)] = _Value(_coerce_text(section, key, env[name]), source)


def _read_overrides(
    overrides: Mapping[str, Any], layer: dict[tuple[str, str], _Value], problems: list[_Problem]
) -> None:
    for dotted in sorted(overrides, key=str):
        value = overrides[dotted]
        if value is None:
            # CLI parsers report flags that were not given as None: "not given", not a value.
            continue
        source = f"cli --{_name(str(dotted))}"
        section, _, key = str(dotted).partition(".")
        if section == STRATEGIES:
            sname, _, skey = key.partition(".")
            unknown = _strategy_key(sname, skey, source)
            if unknown is not None:
                problems.append(unknown)
            else:
                layer[(STRATEGIES, key)] = _Value(
                    _coerce_strategy_text(sname, skey, value) if isinstance(value, str) else value, source
                )
            continue
        unknown = _unknown_key(section, key, source)
        if unknown is not None:
            problems.append(unknown)
        else:
            layer[(section, key)] = _Value(
                _coerce_text(section, key, value) if isinstance(value, str) else value, source
            )


def _raise(problems: Sequence[_Problem]) -> NoReturn:
    first = problems[0]
    raise ConfigError(
        first.message, key=first.key, source=first.source, problems=[p.message for p in problems]
    )


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load settings: CLI ``overrides`` > ``env`` > config file > defaults.

    ``path`` None uses :func:`default_config_path` if that file exists, else defaults only; an
    explicit path must exist. ``env`` None reads ``os.environ``. ``overrides`` maps dotted keys
    (``"engine.mode"``) to values; None values mean "flag not given" and are skipped.
    Raises :class:`ConfigError` (one line) on the first problem found.
    """
    config_path: Path | None
    if path is None:
        candidate = default_config_path()
        config_path = candidate.resolve() if candidate.is_file() else None
    else:
        config_path = Path(path).expanduser().resolve()
        if not config_path.is_file():
            why = "is a directory" if config_path.is_dir() else "not found"
            raise ConfigError(f"{config_path}: config file {why}", source=f"config.toml {config_path}")

    problems: list[_Problem] = []
    layers: list[dict[tuple[str, str], _Value]] = [{}, {}, {}]
    if config_path is not None:
        _read_file(config_path, layers[0], problems)
    _read_env(os.environ if env is None else env, layers[1], problems)
    _read_overrides(overrides or {}, layers[2], problems)

    effective: dict[tuple[str, str], _Value] = {}
    for layer in layers:  # lowest priority first, so later layers win
        effective.update(layer)

    data: dict[str, dict[str, Any]] = {}
    strategy_tables: dict[str, dict[str, _Value]] = {}
    for (section, key), item in effective.items():
        if section == STRATEGIES:
            sname, _, skey = key.partition(".")
            strategy_tables.setdefault(sname, {})[skey] = item
        else:
            data.setdefault(section, {})[key] = item.value
    if not problems:
        strategies = _validate_strategies(strategy_tables, problems)
        if strategies is not None:
            data[STRATEGIES] = strategies

    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        sections = _sections()
        reported: set[tuple[str, str]] = set()
        for error in exc.errors():
            loc = error["loc"]
            if len(loc) < 2:  # pragma: no cover - section shapes are checked before validation
                problems.append(_Problem(str(loc[0]) if loc else "?", "?", _one_line(str(error["msg"]))))
                continue
            section, key = str(loc[0]), str(loc[1])
            if (section, key) in reported:  # a union can yield several errors for one value
                continue
            reported.add((section, key))
            item = effective[(section, key)]
            field = sections[section].model_fields[key]
            shown = _shown(item.value, hide=_is_hidden(field))
            why = f"accepted: {_accepted(field)}"
            if _looks_like_key(item.value):
                why += f"; {_KEY_HINT}"
            problems.append(
                _Problem(
                    f"{section}.{key}", item.source, f"{section}.{key} = {shown} (from {item.source}): {why}"
                )
            )

    if problems or settings is None:
        _raise(problems)
    settings._config_path = config_path
    settings._base_dir = config_path.parent if config_path is not None else Path.cwd()
    return settings
