-- Big Earn ledger, schema version 1.
--
-- Conventions (enforced by engine/store/db.py, restated here for anyone reading the file with sqlite3):
--   * Money (prices, sizes, cash, fees, P&L) is TEXT holding an exact plain decimal string such as
--     '0.0000000001'. Never REAL: binary floats cannot represent cents or ticks exactly.
--     Consequence: MIN/MAX/ORDER BY on money columns compare as text; CAST(... AS REAL) for analytics.
--   * Model quantities (probabilities, bands, edges, bps, ratios) are REAL.
--   * Timestamps are INTEGER unix milliseconds.
--   * *_json columns are TEXT produced by orjson.
-- No FOREIGN KEY clauses: rows are written in batches and a child may legitimately be recorded before
-- its parent (e.g. a fill for an order placed by a previous process); references are by id only.

CREATE TABLE runs (
    run_id        TEXT PRIMARY KEY,
    started_ts    INTEGER NOT NULL,
    ended_ts      INTEGER,
    venue         TEXT NOT NULL,
    mode          TEXT NOT NULL,
    seed          INTEGER,
    config_json   TEXT NOT NULL,
    summary_json  TEXT
);

CREATE TABLE markets (
    condition_id    TEXT PRIMARY KEY,
    slug            TEXT NOT NULL,
    question        TEXT NOT NULL,
    category        TEXT NOT NULL,
    yes_token_id    TEXT NOT NULL,
    no_token_id     TEXT NOT NULL,
    yes_outcome     TEXT NOT NULL,
    no_outcome      TEXT NOT NULL,
    tick_size       TEXT NOT NULL,
    min_order_size  TEXT NOT NULL,
    neg_risk        INTEGER NOT NULL,
    fee_rate        TEXT NOT NULL,
    fee_exponent    INTEGER NOT NULL,
    start_ts        INTEGER,
    end_ts          INTEGER,
    cluster         TEXT,
    resolved_ts     INTEGER,
    yes_payout      TEXT,
    updated_ts      INTEGER NOT NULL
);

CREATE TABLE evaluations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id           TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    condition_id     TEXT NOT NULL,
    brain            TEXT NOT NULL,
    p_hat            REAL NOT NULL,
    ci_low           REAL NOT NULL,
    ci_high          REAL NOT NULL,
    market_mid       REAL,
    best_bid         TEXT,
    best_ask         TEXT,
    spread           REAL,
    depth_usdc       REAL,
    time_to_close_s  REAL,
    decision         TEXT NOT NULL,
    reason           TEXT NOT NULL,
    details_json     TEXT NOT NULL,
    outcome          REAL
);
CREATE INDEX ix_evaluations_condition ON evaluations (condition_id);
CREATE INDEX ix_evaluations_run ON evaluations (run_id);

CREATE TABLE proposals (
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
    p_hat                  REAL NOT NULL,
    ci_low                 REAL NOT NULL,
    ci_high                REAL NOT NULL,
    edge_net               REAL NOT NULL,
    kelly_fraction         REAL NOT NULL,
    binding_cap            TEXT NOT NULL,
    expected_slippage_bps  REAL NOT NULL,
    expires_ts             INTEGER NOT NULL,
    status                 TEXT NOT NULL,
    rationale_json         TEXT NOT NULL
);
CREATE INDEX ix_proposals_run ON proposals (run_id);

CREATE TABLE decisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    proposal_id  TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    size         TEXT,
    note         TEXT NOT NULL
);
CREATE INDEX ix_decisions_proposal ON decisions (proposal_id);

CREATE TABLE order_intents (
    client_order_id  TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    proposal_id      TEXT,
    condition_id     TEXT NOT NULL,
    token_id         TEXT NOT NULL,
    side             TEXT NOT NULL,
    order_type       TEXT NOT NULL,
    post_only        INTEGER NOT NULL,
    price            TEXT NOT NULL,
    size             TEXT NOT NULL,
    expiration       INTEGER,
    state            TEXT NOT NULL,
    venue_order_id   TEXT,
    filled           TEXT NOT NULL,
    updated_ts       INTEGER NOT NULL
);
CREATE INDEX ix_order_intents_run ON order_intents (run_id);
CREATE INDEX ix_order_intents_state ON order_intents (state);

CREATE TABLE order_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id  TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    state_from       TEXT,
    state_to         TEXT NOT NULL,
    cause            TEXT NOT NULL,
    venue_order_id   TEXT,
    detail_json      TEXT NOT NULL
);
CREATE INDEX ix_order_events_order ON order_events (client_order_id);

CREATE TABLE fills (
    trade_id         TEXT PRIMARY KEY,
    client_order_id  TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    condition_id     TEXT NOT NULL,
    token_id         TEXT NOT NULL,
    side             TEXT NOT NULL,
    price            TEXT NOT NULL,
    size             TEXT NOT NULL,
    fee              TEXT NOT NULL,
    liquidity        TEXT NOT NULL,
    status           TEXT NOT NULL
);
CREATE INDEX ix_fills_order ON fills (client_order_id);

CREATE TABLE settlements (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            TEXT NOT NULL,
    ts                INTEGER NOT NULL,
    condition_id      TEXT NOT NULL,
    token_id          TEXT NOT NULL,
    size              TEXT NOT NULL,
    payout_per_share  TEXT NOT NULL,
    cash              TEXT NOT NULL
);
CREATE INDEX ix_settlements_run ON settlements (run_id);

CREATE TABLE positions (
    token_id      TEXT PRIMARY KEY,
    condition_id  TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    size          TEXT NOT NULL,
    avg_price     TEXT NOT NULL,
    cost          TEXT NOT NULL,
    realized_pnl  TEXT NOT NULL,
    updated_ts    INTEGER NOT NULL
);

CREATE TABLE pnl_snapshots (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id           TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    cash             TEXT NOT NULL,
    positions_value  TEXT NOT NULL,
    equity           TEXT NOT NULL,
    realized         TEXT NOT NULL,
    unrealized       TEXT NOT NULL,
    fees             TEXT NOT NULL,
    high_water       TEXT NOT NULL,
    drawdown         REAL NOT NULL,
    day_pnl          TEXT NOT NULL,
    week_pnl         TEXT NOT NULL,
    open_positions   INTEGER NOT NULL,
    open_orders      INTEGER NOT NULL
);
CREATE INDEX ix_pnl_snapshots_run_ts ON pnl_snapshots (run_id, ts);

CREATE TABLE halts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         TEXT NOT NULL,
    ts             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    trigger_value  TEXT,
    threshold      TEXT,
    action         TEXT NOT NULL,
    resumed_ts     INTEGER,
    resumed_by     TEXT
);
CREATE INDEX ix_halts_run ON halts (run_id);
