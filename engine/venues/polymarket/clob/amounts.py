"""Order amount math of CLOB V2: (side, price, size) <-> (makerAmount, takerAmount) in 1e6 base units.

A signed order carries no price: it offers `makerAmount` of one asset for `takerAmount` of the other.
A BUY offers USDC (pUSD) for shares, so price = maker/taker and size = taker; a SELL offers shares for
USDC, so price = taker/maker and size = maker. Both assets have 6 decimals.

The rounding reproduces the official SDKs' order builder so that an order we build gets the same
amounts, hence the same orderID, as one the SDK would build, and so that the local exchange derives
the same price from the amounts as the real one:

* sizes (shares, and USDC of a market BUY) are rounded *down* to 2 decimals;
* the derived side (USDC of a limit order, or the other leg of a market order) is rounded up at
  `amount + 4` decimals and then down to `amount` decimals. The round-up step exists in the SDKs to
  absorb binary-float noise (0.3 * 3 = 0.8999999...); here the math is exact, but the step still
  decides the result when the exact value sits just below a boundary, so it is kept;
* a market order's price is first rounded down to the tick's price decimals.

Everything here is exact: Decimal inputs are turned into integer ratios and rounded with integer
division, so there is no dependence on the Decimal context precision and floats are refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

BASE_DECIMALS = 6  # pUSD and CTF position tokens
BASE = 10**BASE_DECIMALS
BUY = 0
SELL = 1


class AmountError(ValueError):
    """An order price, size, amount or tick that cannot be turned into valid order amounts."""


class RoundingConfig(NamedTuple):
    price: int  # decimals of a price
    size: int  # decimals of a size (shares; USDC of a market BUY)
    amount: int  # decimals of the derived amount


ROUNDING: dict[Decimal, RoundingConfig] = {
    Decimal("0.1"): RoundingConfig(price=1, size=2, amount=3),
    Decimal("0.01"): RoundingConfig(price=2, size=2, amount=4),
    Decimal("0.005"): RoundingConfig(price=3, size=2, amount=5),
    Decimal("0.0025"): RoundingConfig(price=4, size=2, amount=6),
    Decimal("0.001"): RoundingConfig(price=3, size=2, amount=5),
    Decimal("0.0001"): RoundingConfig(price=4, size=2, amount=6),
}
TICK_SIZES: tuple[Decimal, ...] = tuple(ROUNDING)
_TICKS_TEXT = ", ".join(str(t) for t in TICK_SIZES)


# --- input coercion ---------------------------------------------------------------------------


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int) and not isinstance(value, bool):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except ArithmeticError:
            raise AmountError(f"{field} must be a decimal number, got {value!r}") from None
    elif isinstance(value, float):
        raise AmountError(
            f"{field} must be a Decimal, int or str, not a float ({value!r}): floats are not exact"
        )
    else:
        raise AmountError(f"{field} must be a Decimal, int or str, got {type(value).__name__}")
    if not d.is_finite():
        raise AmountError(f"{field} must be a finite number, got {value!r}")
    return d


def _tick(tick: Any) -> Decimal:
    # Ticks arrive as JSON numbers (`{"minimum_tick_size": 0.001}`), so a float is taken by its
    # shortest repr, which is exactly the decimal the server printed.
    if isinstance(tick, float):
        tick = repr(tick)
    return _decimal(tick, "tick")


def rounding_config(tick: Decimal | str | float) -> RoundingConfig:
    """Rounding decimals for a market's minimum tick size."""
    t = _tick(tick)
    cfg = ROUNDING.get(t)
    if cfg is None:
        raise AmountError(f"tick must be one of {_TICKS_TEXT}, got {tick!r}")
    return cfg


def _side(side: Any) -> int:
    if side == BUY or side == "BUY":  # also engine.domain.Side (a StrEnum)
        return BUY
    if side == SELL or side == "SELL":
        return SELL
    raise AmountError(f'side must be BUY (0 or "BUY") or SELL (1 or "SELL"), got {side!r}')


def _floor_scaled(x: Decimal, decimals: int) -> int:
    """floor(x * 10^decimals), exactly."""
    n, d = x.as_integer_ratio()
    return (n * 10**decimals) // d


def _derived_units(num: int, den: int, amount_decimals: int) -> int:
    """The SDKs' amount rounding of the exact value num/den (> 0), in units of 10^-amount_decimals:
    round up at amount+4 decimals, then down at amount decimals. (A value already on the amount grid
    is unchanged by both steps.)"""
    up = -((-num * 10 ** (amount_decimals + 4)) // den)
    return up // 10**4


# --- prices -----------------------------------------------------------------------------------


def is_on_tick(price: Decimal | str | int, tick: Decimal | str | float) -> bool:
    """True if `price` is a valid limit price for this tick: a multiple of tick in [tick, 1 - tick]."""
    try:
        p, t = _decimal(price, "price"), _tick(tick)
    except AmountError:
        return False
    return t <= p <= 1 - t and p % t == 0


def check_price(price: Decimal | str | int, tick: Decimal | str | float, field: str = "price") -> Decimal:
    """Return `price` as a Decimal if it is a valid limit price for `tick`, else raise AmountError."""
    rounding_config(tick)
    p, t = _decimal(price, field), _tick(tick)
    if not t <= p <= 1 - t:
        raise AmountError(f"{field} must be between {t} and {1 - t} for tick {t}, got {price}")
    if p % t != 0:
        raise AmountError(f"{field} {price} is not a multiple of tick {t}")
    return p


# --- amounts ----------------------------------------------------------------------------------


def limit_amounts(
    side: int | str, price: Decimal | str | int, size: Decimal | str | int, tick: Decimal | str | float
) -> tuple[int, int]:
    """(maker_amount, taker_amount) in base units of a limit order of `size` shares at `price`.

    BUY: taker = shares = size rounded down to 2 dp, maker = USDC = shares * price.
    SELL: maker = shares, taker = USDC. The price must be on the tick grid."""
    s = _side(side)
    cfg = rounding_config(tick)
    p = check_price(price, tick)
    q = _decimal(size, "size")
    if q <= 0:
        raise AmountError(f"size must be positive (shares), got {size}")
    share_units = _floor_scaled(q, cfg.size)
    if share_units == 0:
        raise AmountError(f"size must be at least {Decimal(1).scaleb(-cfg.size)} shares, got {size}")
    pn, pd = p.as_integer_ratio()
    usdc_units = _derived_units(share_units * pn, pd * 10**cfg.size, cfg.amount)
    shares = share_units * 10 ** (BASE_DECIMALS - cfg.size)
    usdc = usdc_units * 10 ** (BASE_DECIMALS - cfg.amount)
    return (usdc, shares) if s == BUY else (shares, usdc)


def market_amounts(
    side: int | str, amount: Decimal | str | int, price: Decimal | str | int, tick: Decimal | str | float
) -> tuple[int, int]:
    """(maker_amount, taker_amount) of a market (FOK/FAK) order. `amount` is USDC to spend for a BUY
    and shares to sell for a SELL, rounded down to 2 dp; `price` is the worst price to accept (from the
    book walk), rounded down to the tick's price decimals. BUY: taker = shares = maker / price;
    SELL: taker = USDC = maker * price.

    Rounding a BUY's shares down leaves maker/taker at or slightly above `price`, so the order still
    crosses an ask resting exactly at `price`."""
    s = _side(side)
    cfg = rounding_config(tick)
    t = _tick(tick)
    p = _decimal(price, "price")
    if p <= 0:
        raise AmountError(f"price must be positive, got {price}")
    p_units = _floor_scaled(p, cfg.price)
    rp = Decimal(p_units).scaleb(-cfg.price)
    if not t <= rp <= 1 - t:
        raise AmountError(
            f"price must be between {t} and {1 - t} for tick {t} (after rounding down to {cfg.price} dp), got {price}"
        )
    a = _decimal(amount, "amount")
    what = "USDC" if s == BUY else "shares"
    if a <= 0:
        raise AmountError(f"amount must be positive ({what}), got {amount}")
    maker_units = _floor_scaled(a, cfg.size)
    if maker_units == 0:
        raise AmountError(f"amount must be at least {Decimal(1).scaleb(-cfg.size)} {what}, got {amount}")
    if s == BUY:
        taker_units = _derived_units(maker_units * 10**cfg.price, p_units * 10**cfg.size, cfg.amount)
    else:
        taker_units = _derived_units(maker_units * p_units, 10 ** (cfg.size + cfg.price), cfg.amount)
    if taker_units == 0:
        raise AmountError(f"amount {amount} at price {price} rounds the taker amount to zero")
    return (
        maker_units * 10 ** (BASE_DECIMALS - cfg.size),
        taker_units * 10 ** (BASE_DECIMALS - cfg.amount),
    )


def price_size_from_amounts(side: int | str, maker_amount: int, taker_amount: int) -> tuple[Decimal, Decimal]:
    """(price, size in shares) implied by a signed order's amounts, as the exchange reads them:
    BUY price = maker/taker, size = taker; SELL price = taker/maker, size = maker.

    Size is exact. Price is exact when maker/taker is a terminating decimal (every limit order built
    here); otherwise it is the 28-significant-digit Decimal quotient (market BUYs can give that)."""
    s = _side(side)
    for name, v in (("maker_amount", maker_amount), ("taker_amount", taker_amount)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise AmountError(f"{name} must be a positive int of base units, got {v!r}")
    usdc, shares = (maker_amount, taker_amount) if s == BUY else (taker_amount, maker_amount)
    return Decimal(usdc) / Decimal(shares), Decimal(shares).scaleb(-BASE_DECIMALS)


__all__ = [
    "BASE",
    "BASE_DECIMALS",
    "BUY",
    "ROUNDING",
    "SELL",
    "TICK_SIZES",
    "AmountError",
    "RoundingConfig",
    "check_price",
    "is_on_tick",
    "limit_amounts",
    "market_amounts",
    "price_size_from_amounts",
    "rounding_config",
]
