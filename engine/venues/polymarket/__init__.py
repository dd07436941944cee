"""Polymarket as a venue: live market data, paper trading against it, and (with `--live`) real orders.

Modules (each imported on its own; this package imports none of them, so loading one never drags in
the others' dependencies):

- `discovery`   -- which markets to trade: Gamma listing + CLOB market details -> `engine.domain.Market`.
- `market_data` -- live L2 books over the market WebSocket, kept honest, as engine `MarketEvent`s.
- `paper`       -- `PolymarketPaperVenue`: live books, our orders matched in-process, nothing sent.
- `live`, `gateway`, `ratelimit`, `retry`, `keys` -- the live order path (real orders, keys, limits).
"""
