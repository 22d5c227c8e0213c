"""Invoice-export: turns billable synced hours into draft invoices in accounting tools."""
