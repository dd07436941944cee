-- Big Earn ledger, schema version 8: what the truth report needs that the ledger did not keep.
--
-- `health`: one row per P&L snapshot (engine.pnl_snapshot_interval_s), the feed as the engine saw it then:
--   books        books watched (open markets with data, or that should have some)
--   stale_books  of those, books older than breakers.stale_feed_s (or that the venue cannot vouch for)
--   feed_age_ms  time since any watched book was known current (0: the feed is alive)
--   reconnects   market-data reconnects since the run started (cumulative; 0 for venues without a socket)
--   market_events market events applied since the run started (cumulative)
-- The report reads uptime (share of sampled time with feed_age_ms within breakers.stale_feed_global_s),
-- reconnects and stale-book time from it.
-- `markouts` rows with horizon_s = 0 are taken at the fill itself: the traded token's mid when the fill
-- arrived against the fill price, signed for our side (the half-spread a maker earned, or a taker paid).
CREATE TABLE health (
    run_id         TEXT NOT NULL,
    ts             INTEGER NOT NULL,
    books          INTEGER NOT NULL,
    stale_books    INTEGER NOT NULL,
    feed_age_ms    INTEGER NOT NULL,
    reconnects     INTEGER NOT NULL,
    market_events  INTEGER NOT NULL
);
CREATE INDEX ix_health_run_ts ON health (run_id, ts);
CREATE INDEX ix_markouts_trade ON markouts (trade_id);
CREATE INDEX ix_fills_ts ON fills (ts);
CREATE INDEX ix_order_intents_proposal ON order_intents (proposal_id);
CREATE INDEX ix_order_events_state ON order_events (state_to);
