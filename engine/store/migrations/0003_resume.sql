-- Big Earn ledger, schema version 3: a restart resumes the account it traded.
--
-- runs.account: whose money the run traded ("live:<chain>:<wallet>", "paper:<exchange>", or a run's own
--   "replay:<run_id>" / "sim:<run_id>", which is never resumed). A paper or live engine started on a database
--   that holds runs of its account restores that account's ledger before it may trade.
-- accounts: the ledger of one account across runs: the bankroll it started with and, for a venue that
--   holds real collateral, what the venue held when the ledger began (the base the collateral check uses).
-- engine_state: per account, what a restart must not forget that fills and intents do not already say: the
--   breakers (a tripped loss limit stays tripped), a manual halt, the high-water mark, the day and week
--   starting equity. Written with every group commit.
-- evaluations.p_hat / ci_low / ci_high: NULL when the brain declined (an empty book); the decline is a row
--   with its reason, never a broken one.
-- proposals.expires_wall: when a pending proposal expires in the operator's (real) time, unix ms.
-- positions: one row per (account, token).

ALTER TABLE runs ADD COLUMN account TEXT NOT NULL DEFAULT '';
CREATE INDEX ix_runs_account ON runs (account, started_ts);

CREATE TABLE accounts (
    account           TEXT PRIMARY KEY,
    created_ts        INTEGER NOT NULL,
    starting_cash     TEXT NOT NULL,
    venue_cash_start  TEXT
);

CREATE TABLE engine_state (
    account     TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    state_json  TEXT NOT NULL
);

ALTER TABLE proposals ADD COLUMN expires_wall INTEGER;

CREATE TABLE evaluations_v3 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id           TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    condition_id     TEXT NOT NULL,
    brain            TEXT NOT NULL,
    p_hat            REAL,
    ci_low           REAL,
    ci_high          REAL,
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
INSERT INTO evaluations_v3 SELECT * FROM evaluations;
DROP TABLE evaluations;
ALTER TABLE evaluations_v3 RENAME TO evaluations;
CREATE INDEX ix_evaluations_condition ON evaluations (condition_id);
CREATE INDEX ix_evaluations_run ON evaluations (run_id);

CREATE TABLE positions_v3 (
    account       TEXT NOT NULL,
    token_id      TEXT NOT NULL,
    condition_id  TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    size          TEXT NOT NULL,
    avg_price     TEXT NOT NULL,
    cost          TEXT NOT NULL,
    realized_pnl  TEXT NOT NULL,
    updated_ts    INTEGER NOT NULL,
    PRIMARY KEY (account, token_id)
);
INSERT INTO positions_v3 SELECT '', token_id, condition_id, outcome, size, avg_price, cost, realized_pnl, updated_ts
    FROM positions;
DROP TABLE positions;
ALTER TABLE positions_v3 RENAME TO positions;
