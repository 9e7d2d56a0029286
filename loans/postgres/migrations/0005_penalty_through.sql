-- The last day whose penalty interest a repayment posted while close of business
-- was behind (loans.Loan.PenaltyThrough); close of business does not post those
-- days again. Empty: none.
ALTER TABLE loans ADD COLUMN penalty_through TEXT NOT NULL DEFAULT '';
