"""Polymarket as a venue: live market data, paper trading against it, and (with `--live`) real orders.

Modules (each imported on its own; this package imports none of them, so loading one never drags in
the others' dependencies):

- `discovery`   -- which markets to trade: Gamma listing + CLOB market details -> `engine.domain.Market`.
- `market_data` -- live L2 books over the market WebSocket, kept honest, as engine `MarketEvent`s.
- `market_ws`, `market_channel` -- the market WebSocket itself (sharded sockets, PING/PONG, reconnects)
  and the parsing and book routing of its frames.
- `user_ws`     -- the authenticated user WebSocket: our order updates and fills.
- `clob`        -- CLOB V2 protocol primitives: EIP-712 order signing, L1/L2 auth, amount math.
- `paper`       -- `PolymarketPaperVenue`: live books, our orders matched in-process, nothing sent.
- `live`, `gateway`, `ratelimit`, `retry`, `keys` -- the live order path (real orders, keys, limits).
"""
