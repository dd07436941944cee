"""Exact price and size units.

Prices live as integers of 1/10,000 USDC per share ("price units"): every Polymarket tick size
(0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001) is a whole number of them, and the complement of a price
(YES bid at p is a NO ask at 1-p) stays an exact integer. Sizes live as integers of 1e-6 shares, the
on-chain base unit. Money (cash, fees, P&L) is `Decimal`; `notional()` is exact because a price unit
times a size unit is 1e-10 USDC. Floats appear only for model quantities (probabilities, bands, bps).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

PRICE_SCALE = 10_000
SIZE_SCALE = 1_000_000
ONE = PRICE_SCALE  # price of a share that pays 1 USDC

_price_cache: dict[str, int] = {}


class UnitError(ValueError):
    """A price or size that cannot be represented exactly."""


def px_from_str(text: str) -> int:
    """Parse a wire price ("0.51", ".5", "1") exactly; more than 4 decimals is an error."""
    cached = _price_cache.get(text)
    if cached is not None:
        return cached
    try:
        value = Decimal(text)
    except ArithmeticError as exc:
        raise UnitError(f"price {text!r} is not a decimal number") from exc
    scaled = value * PRICE_SCALE
    if scaled != scaled.to_integral_value() or not value.is_finite():
        raise UnitError(f"price {text!r} has more than 4 decimals")
    px = int(scaled)
    if len(_price_cache) < 100_000:
        _price_cache[text] = px
    return px


def qty_from_str(text: str) -> int:
    """Parse a wire size ("200", "514.99", "0.000001") into micro-shares, exactly."""
    sign = -1 if text[:1] == "-" else 1
    body = text[1:] if text[:1] in ("-", "+") else text
    whole, dot, frac = body.partition(".")
    # Digits only around the dot: int() alone would take signs, "_" and spaces inside either part.
    if not (whole or frac) or not (whole or "0").isdecimal() or not (frac or "0").isdecimal():
        raise UnitError(f"size {text!r} is not a decimal number")
    if dot and len(frac) > 6:
        if frac[6:].strip("0"):
            raise UnitError(f"size {text!r} has more than 6 decimals")
        frac = frac[:6]
    return sign * (int(whole or "0") * SIZE_SCALE + (int(frac.ljust(6, "0")) if frac else 0))


def px_from_float(value: float) -> int:
    """Recorded data stores prices as JSON floats (0.51); they are exact to well under a unit."""
    scaled = value * PRICE_SCALE
    px = round(scaled)
    if abs(scaled - px) > 1e-6:
        raise UnitError(f"price {value!r} is not a multiple of 0.0001")
    return px


def qty_from_float(value: float) -> int:
    """Recorded sizes carry float noise (1.9300000000000002); the base unit absorbs it."""
    return round(value * SIZE_SCALE)


def px_from_decimal(value: Decimal) -> int:
    scaled = value * PRICE_SCALE
    if scaled != scaled.to_integral_value():
        raise UnitError(f"price {value} has more than 4 decimals")
    return int(scaled)


def qty_from_decimal(value: Decimal) -> int:
    scaled = value * SIZE_SCALE
    if scaled != scaled.to_integral_value():
        raise UnitError(f"size {value} has more than 6 decimals")
    return int(scaled)


def px_dec(px: int) -> Decimal:
    return Decimal(px).scaleb(-4)


def qty_dec(qty: int) -> Decimal:
    return Decimal(qty).scaleb(-6)


def _minimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def px_to_str(px: int) -> str:
    """Wire form with no trailing zeros, as the exchange prints it: 5100 -> "0.51"."""
    return _minimal(px_dec(px))


def qty_to_str(qty: int) -> str:
    return _minimal(qty_dec(qty))


def notional(px: int, qty: int) -> Decimal:
    """Exact USDC value of `qty` shares at `px`."""
    return Decimal(px * qty).scaleb(-10)


def px_to_float(px: int) -> float:
    return px / PRICE_SCALE


def qty_to_float(qty: int) -> float:
    return qty / SIZE_SCALE


# --- tick math -----------------------------------------------------------------------------------

VALID_TICKS = (1000, 100, 50, 25, 10, 1)  # 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001


def tick_from_str(text: str) -> int:
    tick = px_from_str(text)
    if tick not in VALID_TICKS:
        accepted = ", ".join(px_to_str(t) for t in VALID_TICKS)
        raise UnitError(f"tick size {text!r} is not one of {accepted}")
    return tick


def floor_to_tick(px: int, tick: int) -> int:
    return px - px % tick


def ceil_to_tick(px: int, tick: int) -> int:
    return -((-px) // tick) * tick


def round_price(price: float | Decimal, tick: int, *, side_is_buy: bool) -> int:
    """Round a model price onto the tick grid in the direction that never overpays:
    buys round down, sells round up. Then clamp to [tick, 1 - tick] (rounding first, so the clamp
    can never produce an off-tick price)."""
    value = Decimal(str(price)) if isinstance(price, float) else price
    units = (value * PRICE_SCALE) / tick
    steps = int(units.to_integral_value(rounding=ROUND_FLOOR if side_is_buy else ROUND_CEILING))
    return clamp_price(steps * tick, tick)


def clamp_price(px: int, tick: int) -> int:
    return min(max(px, tick), ONE - tick)


def is_valid_price(px: int, tick: int) -> bool:
    return px % tick == 0 and tick <= px <= ONE - tick


def floor_size(qty: int, decimals: int = 2) -> int:
    """Order sizes are sent with at most two decimals (the exchange's rounding rule)."""
    step = 10 ** (6 - decimals)
    return qty - qty % step


__all__ = [
    "ONE",
    "PRICE_SCALE",
    "SIZE_SCALE",
    "VALID_TICKS",
    "UnitError",
    "ceil_to_tick",
    "clamp_price",
    "floor_size",
    "floor_to_tick",
    "is_valid_price",
    "notional",
    "px_dec",
    "px_from_decimal",
    "px_from_float",
    "px_from_str",
    "px_to_float",
    "px_to_str",
    "qty_dec",
    "qty_from_decimal",
    "qty_from_float",
    "qty_from_str",
    "qty_to_float",
    "qty_to_str",
    "round_price",
    "tick_from_str",
]
