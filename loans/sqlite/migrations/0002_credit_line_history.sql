-- loans schema v2: the audit trail of credit line changes (nightly refresh and
-- real-time re-decisions). One row per recorded change, never updated.
CREATE TABLE credit_line_history (
  id                   INTEGER PRIMARY KEY,
  merchant_id          TEXT NOT NULL,
  at                   TEXT NOT NULL,  -- RFC 3339 UTC
  day                  TEXT NOT NULL,  -- UTC date of at: the daily increase bound's day
  source               TEXT NOT NULL CHECK (source IN ('refresh','realtime')),
  change               TEXT NOT NULL,
  prev_limit_minor     INTEGER NOT NULL CHECK (prev_limit_minor >= 0),
  limit_minor          INTEGER NOT NULL CHECK (limit_minor >= 0),
  proposed_limit_minor INTEGER NOT NULL CHECK (proposed_limit_minor >= 0),
  drawn_minor          INTEGER NOT NULL CHECK (drawn_minor >= 0),
  prev_apr_micro       INTEGER NOT NULL,
  apr_micro            INTEGER NOT NULL,
  grade                TEXT NOT NULL DEFAULT '',
  score                REAL NOT NULL DEFAULT 0,
  pd                   REAL NOT NULL DEFAULT 0,
  model_id             TEXT NOT NULL DEFAULT '',
  as_of                TEXT NOT NULL DEFAULT '',
  reasons              TEXT NOT NULL DEFAULT '[]',
  guard_rail           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX credit_line_history_merchant ON credit_line_history(merchant_id, id);
CREATE INDEX credit_line_history_day ON credit_line_history(merchant_id, day, id);
