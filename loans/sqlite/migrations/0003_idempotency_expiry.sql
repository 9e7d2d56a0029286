-- Close of business deletes idempotency keys older than the retention.
CREATE INDEX loans_idempotency_created ON loans_idempotency(created_at);
