-- Big Earn ledger, schema version 2: why a proposal ended as it did.
--
-- proposals.reason: for a proposal refused at send time, the rule that refused it with the value that
-- decided it and its threshold (e.g. "BREAKER_DAILY_LOSS value=0.0512 threshold=0.05: day loss ..."); for
-- one rejected or expired, the operator's note or the cause. Empty while pending or once approved.
ALTER TABLE proposals ADD COLUMN reason TEXT NOT NULL DEFAULT '';
