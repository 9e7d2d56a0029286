-- loans schema v1. Money columns are INTEGER minor units; dates are TEXT YYYY-MM-DD.
CREATE TABLE loans_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE credit_lines (
  merchant_id   TEXT PRIMARY KEY,
  currency      TEXT NOT NULL,
  limit_minor   INTEGER NOT NULL CHECK (limit_minor >= 0),
  drawn_minor   INTEGER NOT NULL DEFAULT 0 CHECK (drawn_minor >= 0),
  apr_micro     INTEGER NOT NULL CHECK (apr_micro >= 0),
  grade         TEXT NOT NULL DEFAULT '',
  score         REAL NOT NULL DEFAULT 0,
  pd            REAL NOT NULL DEFAULT 0,
  reasons       TEXT NOT NULL DEFAULT '[]',
  model_id      TEXT NOT NULL DEFAULT '',
  as_of         TEXT NOT NULL DEFAULT '',
  status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','frozen','closed')),
  frozen_reason TEXT NOT NULL DEFAULT '',
  updated_at    TEXT NOT NULL,
  CHECK (drawn_minor <= limit_minor)
) WITHOUT ROWID;
CREATE INDEX credit_lines_status_grade ON credit_lines(status, grade, merchant_id);

CREATE TABLE applications (
  id            INTEGER PRIMARY KEY,
  merchant_id   TEXT NOT NULL,
  body          TEXT NOT NULL,   -- the Application as JSON (decision, reasons, offer)
  status        TEXT NOT NULL,
  loan_id       INTEGER,
  created_at    TEXT NOT NULL
);
CREATE INDEX applications_merchant ON applications(merchant_id, id);

CREATE TABLE loans (
  id                          INTEGER PRIMARY KEY,
  merchant_id                 TEXT NOT NULL,
  application_id              INTEGER NOT NULL DEFAULT 0,
  product                     TEXT NOT NULL CHECK (product IN ('term','revolving')),
  currency                    TEXT NOT NULL,
  status                      TEXT NOT NULL CHECK (status IN ('pending','active','paid_off','charged_off','cancelled')),
  grade                       TEXT NOT NULL DEFAULT '',
  apr_micro                   INTEGER NOT NULL,
  penalty_rate_micro          INTEGER NOT NULL,
  method                      TEXT NOT NULL DEFAULT '',
  frequency                   TEXT NOT NULL DEFAULT '',
  every_days                  INTEGER NOT NULL DEFAULT 0,
  day_count                   TEXT NOT NULL DEFAULT '',
  term_periods                INTEGER NOT NULL DEFAULT 0,
  strategy                    TEXT NOT NULL,
  reschedule                  TEXT NOT NULL,
  installment_minor           INTEGER NOT NULL DEFAULT 0,
  principal_minor             INTEGER NOT NULL CHECK (principal_minor > 0),
  disbursed_on                TEXT NOT NULL,
  principal_outstanding_minor INTEGER NOT NULL CHECK (principal_outstanding_minor >= 0),
  interest_receivable_minor   INTEGER NOT NULL DEFAULT 0 CHECK (interest_receivable_minor >= 0),
  penalty_receivable_minor    INTEGER NOT NULL DEFAULT 0 CHECK (penalty_receivable_minor >= 0),
  fee_receivable_minor        INTEGER NOT NULL DEFAULT 0 CHECK (fee_receivable_minor >= 0),
  principal_repaid_minor      INTEGER NOT NULL DEFAULT 0,
  interest_paid_minor         INTEGER NOT NULL DEFAULT 0,
  penalty_paid_minor          INTEGER NOT NULL DEFAULT 0,
  charged_off_minor           INTEGER NOT NULL DEFAULT 0,
  recovered_minor             INTEGER NOT NULL DEFAULT 0 CHECK (recovered_minor <= charged_off_minor),
  dpd                         INTEGER NOT NULL DEFAULT 0,
  bucket                      TEXT NOT NULL DEFAULT 'current',
  accrued_total_minor         INTEGER NOT NULL DEFAULT 0,
  accrual_residue             INTEGER NOT NULL DEFAULT 0,
  penalty_total_minor         INTEGER NOT NULL DEFAULT 0,
  penalty_residue             INTEGER NOT NULL DEFAULT 0,
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
  loan_id              INTEGER NOT NULL,
  seq                  INTEGER NOT NULL,
  due_date             TEXT NOT NULL,
  principal_minor      INTEGER NOT NULL CHECK (principal_minor >= 0),
  interest_minor       INTEGER NOT NULL CHECK (interest_minor >= 0),
  principal_paid_minor INTEGER NOT NULL DEFAULT 0 CHECK (principal_paid_minor BETWEEN 0 AND principal_minor),
  interest_paid_minor  INTEGER NOT NULL DEFAULT 0 CHECK (interest_paid_minor BETWEEN 0 AND interest_minor),
  accrued              INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (loan_id, seq)
) WITHOUT ROWID;
-- Close of business reads only unaccrued and unpaid installments through these.
CREATE INDEX installments_unaccrued ON installments(due_date, loan_id) WHERE accrued = 0;
CREATE INDEX installments_unpaid ON installments(due_date, loan_id)
  WHERE principal_paid_minor < principal_minor OR interest_paid_minor < interest_minor;

CREATE TABLE repayments (
  id              INTEGER PRIMARY KEY,
  loan_id         INTEGER NOT NULL,
  merchant_id     TEXT NOT NULL,
  amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
  value_date      TEXT NOT NULL,
  principal_minor INTEGER NOT NULL,
  interest_minor  INTEGER NOT NULL,
  penalty_minor   INTEGER NOT NULL,
  recovery_minor  INTEGER NOT NULL,
  body            TEXT NOT NULL,   -- the Repayment as JSON (allocation, balances after)
  entry_id        INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX repayments_loan ON repayments(loan_id, id);

CREATE TABLE journal_entries (
  id            INTEGER PRIMARY KEY,
  loan_id       INTEGER NOT NULL,
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
  entry_id     INTEGER NOT NULL,
  leg          INTEGER NOT NULL,
  account      INTEGER NOT NULL REFERENCES ledger_accounts(code),
  loan_id      INTEGER NOT NULL,
  debit_minor  INTEGER NOT NULL CHECK (debit_minor >= 0),
  credit_minor INTEGER NOT NULL CHECK (credit_minor >= 0),
  CHECK ((debit_minor = 0) <> (credit_minor = 0)),
  PRIMARY KEY (entry_id, leg)
) WITHOUT ROWID;

-- The journal is append-only: corrections are new entries.
CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;

CREATE TABLE loans_idempotency (
  merchant_id  TEXT NOT NULL,
  key          TEXT NOT NULL,
  op           TEXT NOT NULL,
  request_hash BLOB NOT NULL,
  response     BLOB NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (merchant_id, key)
) WITHOUT ROWID;

CREATE TABLE loans_eod_runs (
  business_date TEXT PRIMARY KEY,
  report        TEXT NOT NULL,
  finished_at   TEXT NOT NULL
) WITHOUT ROWID;
