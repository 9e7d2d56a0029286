-- realtime schema v1: ingested transaction batches and their rows.
CREATE TABLE rt_batches (
  id              INTEGER PRIMARY KEY,
  merchant_id     TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  rows            INTEGER NOT NULL CHECK (rows > 0),
  created_at      TEXT NOT NULL,
  response        BLOB,            -- the answer replayed for the key; NULL until recorded
  UNIQUE (merchant_id, idempotency_key)
);

CREATE TABLE rt_transactions (
  id           INTEGER PRIMARY KEY,
  batch_id     INTEGER NOT NULL REFERENCES rt_batches(id),
  merchant_id  TEXT NOT NULL,
  ts           TEXT NOT NULL,     -- as received (SPEC §2.1)
  amount       TEXT NOT NULL,     -- as received, decimal major units
  type         TEXT NOT NULL CHECK (type IN ('sale','refund','chargeback')),
  buyer_id     TEXT NOT NULL DEFAULT '',
  ts_us        INTEGER NOT NULL,  -- parsed instant, microseconds since the epoch, UTC
  amount_micro INTEGER NOT NULL CHECK (amount_micro > 0)
);
CREATE INDEX rt_transactions_merchant_ts ON rt_transactions(merchant_id, ts_us);
