-- Big Earn ledger, schema version 6: fills and P&L snapshots name their strategy.
--
-- A fill's strategy is its order's (rows written before come from the one path there was, `value`). A P&L
-- snapshot row with strategy_id '' is the account's, as before; one row per running strategy follows it at
-- the same ts, from that strategy's own book: its cash is the net cash its fills and settlements moved, its
-- equity is its P&L (realized and marked, after fees; a strategy's book starts at 0), high_water and drawdown
-- are against its own best P&L (drawdown as a share of its budget), day and week P&L from its own starts.
ALTER TABLE fills ADD COLUMN strategy_id TEXT NOT NULL DEFAULT 'value';
ALTER TABLE pnl_snapshots ADD COLUMN strategy_id TEXT NOT NULL DEFAULT '';
CREATE INDEX ix_pnl_snapshots_strategy ON pnl_snapshots (strategy_id, ts);
