-- realtime schema v1 on PostgreSQL: the SQLite schema (realtime/sqlite/migrations)
-- with PostgreSQL types. Every query is by merchant_id, the shard key
-- (docs/SCALING.md), except SetResponse, which the interface addresses by batch id.
CREATE TABLE rt_batches (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  merchant_id     TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  rows            INTEGER NOT NULL CHECK (rows > 0),
  created_at      TEXT NOT NULL,   -- RFC 3339, as on SQLite
  response        BYTEA,           -- the answer replayed for the key; NULL until recorded
  UNIQUE (merchant_id, idempotency_key)
);
-- A merchant's latest batch in one index probe (asked before every ingest).
CREATE INDEX rt_batches_merchant_id ON rt_batches(merchant_id, id);

CREATE TABLE rt_transactions (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id     BIGINT NOT NULL REFERENCES rt_batches(id),
  merchant_id  TEXT NOT NULL,
  ts           TEXT NOT NULL,     -- as received (SPEC §2.1)
  amount       TEXT NOT NULL,     -- as received, decimal major units
  type         TEXT NOT NULL CHECK (type IN ('sale','refund','chargeback')),
  buyer_id     TEXT NOT NULL DEFAULT '',
  ts_us        BIGINT NOT NULL,   -- parsed instant, microseconds since the epoch, UTC
  amount_micro BIGINT NOT NULL CHECK (amount_micro > 0)
);
CREATE INDEX rt_transactions_merchant_ts ON rt_transactions(merchant_id, ts_us);

-- One row per merchant that ingested: Append locks it (FOR UPDATE through an
-- upsert) so a merchant's batches are stored one at a time across processes.
-- Its ids are then taken in commit order and Prev, read under the lock, is
-- the batch committed just before (the service's cache relies on it).
CREATE TABLE rt_merchants (
  merchant_id     TEXT PRIMARY KEY,
  latest_batch_id BIGINT NOT NULL DEFAULT 0
);
