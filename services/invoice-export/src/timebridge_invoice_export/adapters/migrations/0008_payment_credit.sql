-- The credit a payment left unapplied when this invoice is the only one it settles (the
-- customer paid this invoice beyond what it owed: a Xero overpayment's RemainingCredit after
-- its allocation, a QuickBooks payment's UnappliedAmt). It counts in invoices.overpaid; a credit
-- left by a payment of several invoices belongs to none of them. 0 once voided or deleted.
ALTER TABLE invoice_payments ADD COLUMN credit_amount numeric(18,4) NOT NULL DEFAULT 0;
