-- Big Earn ledger, schema version 4: every evaluation, proposal and order names the strategy behind it.
--
-- Rows written before strategies existed came from the one path the engine had, now the strategy `value`.
-- Fills, positions and P&L per strategy follow from the order a fill belongs to. A proposal's model numbers
-- (p_hat, its band, edge, Kelly, slippage) become optional: a strategy without a probability model (a
-- market maker, an arbitrage) proposes without them rather than with made-up ones.
ALTER TABLE evaluations ADD COLUMN strategy_id TEXT NOT NULL DEFAULT 'value';
ALTER TABLE order_intents ADD COLUMN strategy_id TEXT NOT NULL DEFAULT 'value';
CREATE INDEX ix_order_intents_strategy ON order_intents (strategy_id);

CREATE TABLE proposals_v4 (
    id                     TEXT PRIMARY KEY,
    run_id                 TEXT NOT NULL,
    ts                     INTEGER NOT NULL,
    evaluation_id          INTEGER,
    condition_id           TEXT NOT NULL,
    token_id               TEXT NOT NULL,
    outcome                TEXT NOT NULL,
    side                   TEXT NOT NULL,
    order_type             TEXT NOT NULL,
    post_only              INTEGER NOT NULL,
    price                  TEXT NOT NULL,
    size                   TEXT NOT NULL,
    p_hat                  REAL,
    ci_low                 REAL,
    ci_high                REAL,
    edge_net               REAL,
    kelly_fraction         REAL,
    binding_cap            TEXT NOT NULL,
    expected_slippage_bps  REAL,
    expires_ts             INTEGER NOT NULL,
    status                 TEXT NOT NULL,
    rationale_json         TEXT NOT NULL,
    reason                 TEXT NOT NULL DEFAULT '',
    expires_wall           INTEGER,
    strategy_id            TEXT NOT NULL DEFAULT 'value'
);
INSERT INTO proposals_v4 SELECT *, 'value' FROM proposals;
DROP TABLE proposals;
ALTER TABLE proposals_v4 RENAME TO proposals;
CREATE INDEX ix_proposals_run ON proposals (run_id);
