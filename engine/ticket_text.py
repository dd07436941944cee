"""An order ticket typed as text: a price ("0.45", "45c", blank for marketable), a size ("10" shares or "$25"),
a GTD lifetime. The console's ticket and `bigearn-tui ctl order` read them the same way; a text that is not
accepted raises ValueError naming the field and what is accepted."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from engine.units import ONE, SIZE_SCALE

PRICE_ACCEPTS = "a price like 0.45 or 45c, or blank for marketable"
SIZE_ACCEPTS = "shares like 10 or 12.5, or dollars like $25"
EXPIRY_ACCEPTS = "whole seconds > 0, or blank for the default lifetime"


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_price(text: str) -> int | None:
    """A limit price in 1e-4 units: "0.45", ".45" or "45c" (cents); blank or "mkt" is marketable (None)."""
    raw = text.strip().lower()
    if raw in ("", "mkt", "m", "market"):
        return None
    bad = f"price: {text.strip()!r} is not accepted: {PRICE_ACCEPTS}"
    cents = raw.endswith(("c", "¢"))
    value = _decimal(raw[:-1].strip() if cents else raw)
    if value is None:
        raise ValueError(bad)
    if cents:
        value /= 100
    elif value >= 1 and value == value.to_integral_value():
        raise ValueError(f"{bad} (for {value} cents write {value}c)")
    if not 0 < value < 1:
        raise ValueError(f"price: {text.strip()!r} is not strictly between 0 and 1: {PRICE_ACCEPTS}")
    units = value * ONE
    if units != units.to_integral_value():
        raise ValueError(f"price: {text.strip()!r} is finer than 0.0001: {PRICE_ACCEPTS}")
    return int(units)


def parse_size(text: str) -> tuple[int | None, Decimal | None]:
    """(shares in 1e-6 units, None) for "10" or "12.5" shares (0.01-share grid); (None, dollars) for "$25"."""
    raw = text.strip().replace(",", "").replace("_", "")
    if not raw:
        raise ValueError(f"size: blank is not accepted: {SIZE_ACCEPTS}")
    dollars = raw.startswith("$") or raw.endswith("$")
    value = _decimal(raw.strip("$").strip())
    if value is None:
        raise ValueError(f"size: {text.strip()!r} is not accepted: {SIZE_ACCEPTS}")
    if value <= 0:
        raise ValueError(f"size: {text.strip()!r} must be > 0: {SIZE_ACCEPTS}")
    if value != value.quantize(Decimal("0.01")):
        unit = "cents" if dollars else "0.01 shares"
        raise ValueError(f"size: {text.strip()!r} is finer than {unit}: {SIZE_ACCEPTS}")
    if dollars:
        return None, value
    return int(value * SIZE_SCALE), None


def parse_expiry(text: str) -> int | None:
    raw = text.strip().rstrip("s").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"GTD seconds: {text.strip()!r} is not accepted: {EXPIRY_ACCEPTS}")
    return int(raw)
