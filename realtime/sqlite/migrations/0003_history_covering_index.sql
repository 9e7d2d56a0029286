-- realtime schema v3: History reads every column it needs from the index
-- (merchant_id, ts_us first, as the index it replaces), not one table row
-- per history row.
DROP INDEX rt_transactions_merchant_ts;
CREATE INDEX rt_transactions_history ON rt_transactions(merchant_id, ts_us, type, amount_micro, buyer_id);
