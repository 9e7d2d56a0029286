-- Penalty interest is charged to an installment: each day's penalty on the
-- principal overdue that day goes to the oldest installment overdue
-- (loans.Installment.PenaltyMinor), so the installment's unpaid total is what
-- cures it. A loan's penalty_receivable_minor is the sum of its installments'
-- unpaid penalty.
ALTER TABLE installments ADD COLUMN penalty_minor BIGINT NOT NULL DEFAULT 0 CHECK (penalty_minor >= 0);
ALTER TABLE installments ADD COLUMN penalty_paid_minor BIGINT NOT NULL DEFAULT 0 CHECK (penalty_paid_minor >= 0);
-- Penalty receivable before this migration is on the loan only: it is charged
-- to the oldest installment not paid (the last one when all are paid), which
-- is where close of business would have charged it.
UPDATE installments SET penalty_minor = (SELECT l.penalty_receivable_minor FROM loans l WHERE l.id = installments.loan_id)
WHERE (loan_id, seq) IN (
  SELECT l.id, coalesce(
    (SELECT min(i.seq) FROM installments i WHERE i.loan_id = l.id AND (i.principal_paid_minor < i.principal_minor OR i.interest_paid_minor < i.interest_minor)),
    (SELECT max(i.seq) FROM installments i WHERE i.loan_id = l.id))
  FROM loans l WHERE l.status = 'active' AND l.penalty_receivable_minor > 0);
-- Close of business (step 4) reads the unpaid installments through this
-- partial index; an installment with only penalty unpaid is unpaid too.
DROP INDEX installments_unpaid;
CREATE INDEX installments_unpaid ON installments(due_date, loan_id)
  WHERE principal_paid_minor < principal_minor OR interest_paid_minor < interest_minor OR penalty_paid_minor < penalty_minor;
