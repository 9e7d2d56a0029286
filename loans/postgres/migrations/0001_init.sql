-- loans schema v1 on PostgreSQL: the SQLite schema (loans/sqlite/migrations/0001_init.sql)
-- with PostgreSQL types. Money is BIGINT minor units; dates stay TEXT YYYY-MM-DD and
-- times TEXT RFC 3339, so what a client reads is byte-identical on both stores.
-- Every table that grows with the book carries merchant_id, the shard key a
-- distributed PostgreSQL-compatible database would partition on (docs/SCALING.md).
CREATE TABLE loans_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Merchant ids sort bytewise (COLLATE "C"), as in SQLite, so cursors page the
-- same on both stores and the primary key index serves the listing order.
CREATE TABLE credit_lines (
  merchant_id   TEXT COLLATE "C" PRIMARY KEY,
  currency      TEXT NOT NULL,
  limit_minor   BIGINT NOT NULL CHECK (limit_minor >= 0),
  drawn_minor   BIGINT NOT NULL DEFAULT 0 CHECK (drawn_minor >= 0),
  apr_micro     BIGINT NOT NULL CHECK (apr_micro >= 0),
  grade         TEXT NOT NULL DEFAULT '',
  score         DOUBLE PRECISION NOT NULL DEFAULT 0,
  pd            DOUBLE PRECISION NOT NULL DEFAULT 0,
  reasons       TEXT NOT NULL DEFAULT '[]',
  model_id      TEXT NOT NULL DEFAULT '',
  as_of         TEXT NOT NULL DEFAULT '',
  status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','frozen','closed')),
  frozen_reason TEXT NOT NULL DEFAULT '',
  updated_at    TEXT NOT NULL,
  CHECK (drawn_minor <= limit_minor)
);
CREATE INDEX credit_lines_status_grade ON credit_lines(status, grade, merchant_id);

CREATE TABLE applications (
  id            BIGSERIAL PRIMARY KEY,
  merchant_id   TEXT NOT NULL,
  body          TEXT NOT NULL,
  status        TEXT NOT NULL,
  loan_id       BIGINT,
  created_at    TEXT NOT NULL
);
CREATE INDEX applications_merchant ON applications(merchant_id, id);

CREATE TABLE loans (
  id                          BIGSERIAL PRIMARY KEY,
  merchant_id                 TEXT NOT NULL,
  application_id              BIGINT NOT NULL DEFAULT 0,
  product                     TEXT NOT NULL CHECK (product IN ('term','revolving')),
  currency                    TEXT NOT NULL,
  status                      TEXT NOT NULL CHECK (status IN ('pending','active','paid_off','charged_off','cancelled')),
  grade                       TEXT NOT NULL DEFAULT '',
  apr_micro                   BIGINT NOT NULL,
  penalty_rate_micro          BIGINT NOT NULL,
  method                      TEXT NOT NULL DEFAULT '',
  frequency                   TEXT NOT NULL DEFAULT '',
  every_days                  INTEGER NOT NULL DEFAULT 0,
  day_count                   TEXT NOT NULL DEFAULT '',
  term_periods                INTEGER NOT NULL DEFAULT 0,
  strategy                    TEXT NOT NULL,
  reschedule                  TEXT NOT NULL,
  installment_minor           BIGINT NOT NULL DEFAULT 0,
  principal_minor             BIGINT NOT NULL CHECK (principal_minor > 0),
  disbursed_on                TEXT NOT NULL,
  principal_outstanding_minor BIGINT NOT NULL CHECK (principal_outstanding_minor >= 0),
  interest_receivable_minor   BIGINT NOT NULL DEFAULT 0 CHECK (interest_receivable_minor >= 0),
  penalty_receivable_minor    BIGINT NOT NULL DEFAULT 0 CHECK (penalty_receivable_minor >= 0),
  fee_receivable_minor        BIGINT NOT NULL DEFAULT 0 CHECK (fee_receivable_minor >= 0),
  principal_repaid_minor      BIGINT NOT NULL DEFAULT 0,
  interest_paid_minor         BIGINT NOT NULL DEFAULT 0,
  penalty_paid_minor          BIGINT NOT NULL DEFAULT 0,
  charged_off_minor           BIGINT NOT NULL DEFAULT 0,
  recovered_minor             BIGINT NOT NULL DEFAULT 0 CHECK (recovered_minor <= charged_off_minor),
  dpd                         INTEGER NOT NULL DEFAULT 0,
  bucket                      TEXT NOT NULL DEFAULT 'current',
  accrued_total_minor         BIGINT NOT NULL DEFAULT 0,
  accrual_residue             BIGINT NOT NULL DEFAULT 0,
  penalty_total_minor         BIGINT NOT NULL DEFAULT 0,
  penalty_residue             BIGINT NOT NULL DEFAULT 0,
  last_accrual_date           TEXT NOT NULL DEFAULT '',
  next_statement_date         TEXT NOT NULL DEFAULT '',
  closed_on                   TEXT NOT NULL DEFAULT '',
  created_at                  TEXT NOT NULL,
  CHECK (principal_repaid_minor <= principal_minor)
);
CREATE INDEX loans_merchant ON loans(merchant_id, id);
CREATE INDEX loans_status ON loans(status, id);
CREATE INDEX loans_revolving ON loans(product, status) WHERE product = 'revolving';
CREATE INDEX loans_delinquent ON loans(merchant_id) WHERE dpd > 0;

CREATE TABLE installments (
  loan_id              BIGINT NOT NULL,
  seq                  INTEGER NOT NULL,
  due_date             TEXT NOT NULL,
  principal_minor      BIGINT NOT NULL CHECK (principal_minor >= 0),
  interest_minor       BIGINT NOT NULL CHECK (interest_minor >= 0),
  principal_paid_minor BIGINT NOT NULL DEFAULT 0 CHECK (principal_paid_minor BETWEEN 0 AND principal_minor),
  interest_paid_minor  BIGINT NOT NULL DEFAULT 0 CHECK (interest_paid_minor BETWEEN 0 AND interest_minor),
  accrued              INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (loan_id, seq)
);
CREATE INDEX installments_unaccrued ON installments(due_date, loan_id) WHERE accrued = 0;
CREATE INDEX installments_unpaid ON installments(due_date, loan_id)
  WHERE principal_paid_minor < principal_minor OR interest_paid_minor < interest_minor;

CREATE TABLE repayments (
  id              BIGSERIAL PRIMARY KEY,
  loan_id         BIGINT NOT NULL,
  merchant_id     TEXT NOT NULL,
  amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
  value_date      TEXT NOT NULL,
  principal_minor BIGINT NOT NULL,
  interest_minor  BIGINT NOT NULL,
  penalty_minor   BIGINT NOT NULL,
  recovery_minor  BIGINT NOT NULL,
  body            TEXT NOT NULL,
  entry_id        BIGINT NOT NULL,
  idempotency_key TEXT NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX repayments_loan ON repayments(loan_id, id);

CREATE TABLE journal_entries (
  id            BIGSERIAL PRIMARY KEY,
  loan_id       BIGINT NOT NULL,
  merchant_id   TEXT NOT NULL,
  kind          TEXT NOT NULL,
  business_date TEXT NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE INDEX journal_entries_loan ON journal_entries(loan_id, id);

CREATE TABLE ledger_accounts (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
INSERT INTO ledger_accounts VALUES (1,'loan_principal'),(2,'interest_receivable'),(3,'penalty_receivable'),
  (4,'fee_receivable'),(5,'settlement_cash'),(6,'interest_income'),(7,'penalty_income'),(8,'charge_off_expense'),(9,'recoveries');

CREATE TABLE postings (
  entry_id     BIGINT NOT NULL,
  leg          INTEGER NOT NULL,
  account      INTEGER NOT NULL REFERENCES ledger_accounts(code),
  loan_id      BIGINT NOT NULL,
  debit_minor  BIGINT NOT NULL CHECK (debit_minor >= 0),
  credit_minor BIGINT NOT NULL CHECK (credit_minor >= 0),
  CHECK ((debit_minor = 0) <> (credit_minor = 0)),
  PRIMARY KEY (entry_id, leg)
);
CREATE INDEX postings_loan ON postings(loan_id);

-- The journal is append-only: corrections are new entries.
CREATE FUNCTION lend_journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END $$;
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION lend_journal_immutable();
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON postings
  FOR EACH ROW EXECUTE FUNCTION lend_journal_immutable();

CREATE TABLE loans_idempotency (
  merchant_id  TEXT NOT NULL,
  key          TEXT NOT NULL,
  op           TEXT NOT NULL,
  request_hash BYTEA NOT NULL,
  response     BYTEA NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (merchant_id, key)
);

CREATE TABLE loans_eod_runs (
  business_date TEXT PRIMARY KEY,
  report        TEXT NOT NULL,
  finished_at   TEXT NOT NULL
);
