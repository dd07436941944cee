-- Big Earn ledger, schema version 5: quoting mandates.
--
-- A strategy that requotes continuously (a market maker) asks once per market for a mandate: the sides it
-- may quote, the largest order, the most it may hold, a price band (YES terms) and a lifetime. The operator
-- approves it like a proposal; requotes inside it go out without asking again. One row per mandate, updated
-- as it moves (PENDING -> ACTIVE -> REVOKED | EXPIRED | ENDED, or REJECTED); who decided and when is on the
-- row and in `decisions` (proposal_id = the mandate's id); orders sent under it carry its id as proposal_id.
CREATE TABLE mandates (
    id              TEXT PRIMARY KEY,
    run_id          TEXT NOT NULL,
    ts              INTEGER NOT NULL,
    strategy_id     TEXT NOT NULL,
    condition_id    TEXT NOT NULL,
    sides           TEXT NOT NULL,
    max_order_size  TEXT NOT NULL,
    max_inventory   TEXT NOT NULL,
    band_low        TEXT NOT NULL,
    band_high       TEXT NOT NULL,
    lifetime_s      INTEGER NOT NULL,
    status          TEXT NOT NULL,
    decided_ts      INTEGER,
    decided_by      TEXT,
    expires_ts      INTEGER,
    ended_ts        INTEGER,
    ended_by        TEXT,
    reason          TEXT NOT NULL DEFAULT '',
    rationale_json  TEXT NOT NULL
);
CREATE INDEX ix_mandates_run ON mandates (run_id);
