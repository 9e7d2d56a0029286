-- Interest carried into an installment from the previous period's rest after an early
-- settlement (loans.Installment.CarriedInterestMinor): earned in full once its period starts.
ALTER TABLE installments ADD COLUMN carried_interest_minor INTEGER NOT NULL DEFAULT 0;
