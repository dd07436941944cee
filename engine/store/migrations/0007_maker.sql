-- Big Earn ledger, schema version 7: what a maker's fills did next, and what it earns besides trading.
--
-- `markouts`: for each fill, the traded token's canonical mid 30 s, 2 min and 10 min later against the fill
-- price, signed for our side, in cents (positive: the fill was good for us).
-- `maker_income`: liquidity-reward estimates (kind REWARD, one row per market and minute sampled with our
-- quotes in it) and maker rebates (kind REBATE, one row per maker fill on a fee-bearing market), in USDC.
-- Neither is cash nor trading P&L: the venue pays them later, by its own count.
CREATE TABLE markouts (
    run_id        TEXT NOT NULL,
    trade_id      TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    strategy_id   TEXT NOT NULL,
    condition_id  TEXT NOT NULL,
    horizon_s     INTEGER NOT NULL,
    cents         REAL NOT NULL,
    maker         INTEGER NOT NULL
);
CREATE INDEX ix_markouts_strategy ON markouts (strategy_id, horizon_s);
CREATE TABLE maker_income (
    run_id        TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    strategy_id   TEXT NOT NULL,
    condition_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    amount        TEXT NOT NULL,
    detail_json   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ix_maker_income_strategy ON maker_income (strategy_id, kind);
