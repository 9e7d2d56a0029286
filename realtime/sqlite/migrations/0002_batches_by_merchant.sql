-- realtime schema v2: a merchant's latest batch in one index probe (the
-- service's history cache asks it before every ingest).
CREATE INDEX rt_batches_merchant_id ON rt_batches(merchant_id, id);
