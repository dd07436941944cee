"""Exact price and size units.

Prices live as integers of 1/10,000 USDC per share ("price units"): every Polymarket tick size
(0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001) is a whole number of them, and the complement of a price
(YES bid at p is a NO ask at 1-p) stays an exact integer. Sizes live as integers of 1e-6 shares, the
on-chain base unit. Money (cash, fees, P&L) is `Decimal`; `notional()` is exact because a price unit
times a size unit is 1e-10 USDC. Floats appear only for model quantities (probabilities, bands, bps).
"""

from __future__ import annotations

import reprlib
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


# --- strict wire parsing -------------------------------------------------------------------------
# Everything the exchange sends (WebSocket frames, REST bodies) is read through these, never through
# the lenient parsers above: `Decimal()` and `int()` take signs, exponents, "NaN", "_" separators,
# surrounding whitespace and non-ASCII digits ("١٠٠"), none of which the exchange prints.
#
# Prices are checked against the finest tick (one price unit, 0.0001), not against the market's current
# tick: when a tick coarsens (0.001 -> 0.01 as a price leaves the 0.04..0.96 band) the orders placed under
# the finer tick stay on the book, so levels off the new grid are real and must be kept.

PRICE_ACCEPTED = "a decimal strictly between 0 and 1 with at most 4 decimals"
EDGE_PRICE_ACCEPTED = "a decimal from 0 to 1 with at most 4 decimals"
MAX_SIZE_DIGITS = 15  # whole digits: 1e15 shares is far beyond any market's supply
SIZE_ACCEPTED = f"a decimal >= 0 with at most 6 decimals and at most {MAX_SIZE_DIGITS} integer digits"
POSITIVE_SIZE_ACCEPTED = f"a decimal > 0 with at most 6 decimals and at most {MAX_SIZE_DIGITS} integer digits"
MAX_UINT_DIGITS = 19  # an int64 millisecond timestamp has 13
UINT_ACCEPTED = (
    f"a non-negative integer of at most {MAX_UINT_DIGITS} digits (a JSON integer or a string of ASCII digits)"
)
TICK_ACCEPTED = "one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001"

MISSING = object()  # `value` of a WireError for a field that is absent

_show = reprlib.Repr()
_show.maxlevel = 2  # bounded: a 1,000-deep list must not cost a deep recursion to describe
_show.maxstring = 40
_show.maxother = 40
_show.maxlist = _show.maxdict = 4


def show_value(value: object) -> str:
    """A short, escaped rendering of a refused value for one-line errors and logs; never raises."""
    if value is MISSING:
        return "missing"
    try:
        return _show.repr(value)
    except Exception:  # e.g. an int past Python's str-conversion limit: its type is all that is safe
        return f"<{type(value).__name__}>"


class WireError(UnitError):
    """A field received from the exchange that fails validation. The message is one line naming the field,
    the value (shortened) and what is accepted: `price_changes[0].price '1.5': accepted: a decimal ...`."""

    def __init__(self, field: str, value: object, accepted: str) -> None:
        super().__init__(field, value, accepted)
        self.field = field
        self.value = value
        self.accepted = accepted

    def __str__(self) -> str:
        # Built when read, not when raised: most refusals of a flood are only counted.
        return f"{self.field} {show_value(self.value)}: accepted: {self.accepted}"


# Strictly validated prices (0 < px < ONE) by their wire text. Only `strict_px` and `strict_edge_px` write
# it, and only after the checks, so a hit is a validated price; the feed's hot path reads it directly.
# Keys are str only: a lookup with a number misses instead of matching.
strict_px_cache: dict[str, int] = {}


def _decimal_parts(text: object) -> tuple[str, str] | None:
    """(integer digits, fraction digits) of an ASCII decimal string; None for anything else."""
    if type(text) is not str or not text.isascii():
        return None
    whole, _, frac = text.partition(".")  # a second dot stays in `frac` and fails isdigit
    if not (whole or frac):
        return None
    if (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        return None  # for ASCII text, isdigit is exactly 0-9: no sign, space, "_" or exponent
    return whole, frac


def _unit_interval(text: object) -> int | None:
    """Price units of a decimal in [0, 1] with at most 4 significant decimals, else None."""
    parts = _decimal_parts(text)
    if parts is None:
        return None
    whole, frac = parts
    frac = frac.rstrip("0")  # trailing zeros are exact
    if len(frac) > 4:
        return None
    whole = whole.lstrip("0")
    px = int(frac.ljust(4, "0")) if frac else 0
    if not whole:
        return px
    return ONE if whole == "1" and px == 0 else None


def strict_px(text: object, field: str) -> int:
    """A book level's or a fill's price: strictly between 0 and 1 (0 and 1 are not prices on Polymarket)."""
    if type(text) is str:
        cached = strict_px_cache.get(text)
        if cached is not None:
            return cached
    px = _unit_interval(text)
    if px is None or not 0 < px < ONE:
        raise WireError(field, text, PRICE_ACCEPTED)
    if type(text) is str and len(text) <= 12 and len(strict_px_cache) < 100_000:
        strict_px_cache[text] = px  # short texts only: "0.5000000000" variants must not fill memory
    return px


def strict_edge_px(text: object, field: str) -> int:
    """A reported best price, where the exchange writes an empty side as bid "0" / ask "1": 0..ONE."""
    if type(text) is str:
        cached = strict_px_cache.get(text)
        if cached is not None:
            return cached
    px = _unit_interval(text)
    if px is None:
        raise WireError(field, text, EDGE_PRICE_ACCEPTED)
    if 0 < px < ONE and type(text) is str and len(text) <= 12 and len(strict_px_cache) < 100_000:
        strict_px_cache[text] = px
    return px


def strict_qty(text: object, field: str, *, positive: bool = False) -> int:
    """A size in micro-shares. Book levels may be 0 (a level removed); fills and orders are `positive`."""
    parts = _decimal_parts(text)
    if parts is not None:
        whole, frac = parts
        whole = whole.lstrip("0")
        frac = frac.rstrip("0")
        if len(whole) <= MAX_SIZE_DIGITS and len(frac) <= 6:
            qty = int(whole or "0") * SIZE_SCALE + (int(frac.ljust(6, "0")) if frac else 0)
            if qty > 0 or not positive:
                return qty
    raise WireError(field, text, POSITIVE_SIZE_ACCEPTED if positive else SIZE_ACCEPTED)


def strict_uint(value: object, field: str) -> int:
    """A timestamp, counter or index: a non-negative integer, as a JSON integer or a digit string.
    `bool` is refused although Python counts it as an int; floats are refused (1e3 is not a timestamp)."""
    if type(value) is int:
        if 0 <= value < 10**MAX_UINT_DIGITS:
            return value
    elif type(value) is str and value.isascii() and value.isdigit() and len(value) <= MAX_UINT_DIGITS:
        return int(value)
    raise WireError(field, value, UINT_ACCEPTED)


def strict_tick(value: object, field: str) -> int:
    """A tick size: one of Polymarket's ticks, as a string ("0.001") or a JSON number (0.001)."""
    # repr of a float is its shortest round-trip form: 0.001 -> "0.001", 1e-4 -> "0.0001".
    text = repr(value) if type(value) is float else value
    tick = _unit_interval(text)
    if tick not in VALID_TICKS:
        raise WireError(field, value, TICK_ACCEPTED)
    return tick


__all__ = [
    "EDGE_PRICE_ACCEPTED",
    "MISSING",
    "ONE",
    "POSITIVE_SIZE_ACCEPTED",
    "PRICE_ACCEPTED",
    "PRICE_SCALE",
    "SIZE_ACCEPTED",
    "SIZE_SCALE",
    "TICK_ACCEPTED",
    "UINT_ACCEPTED",
    "VALID_TICKS",
    "UnitError",
    "WireError",
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
    "show_value",
    "strict_edge_px",
    "strict_px",
    "strict_px_cache",
    "strict_qty",
    "strict_tick",
    "strict_uint",
    "tick_from_str",
]


DAY_MS = 86_400_000  # a day on the engine clock
WEEK_MS = 7 * DAY_MS
