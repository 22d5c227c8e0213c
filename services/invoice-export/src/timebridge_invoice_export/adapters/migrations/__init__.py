"""SQL migrations of the invoice-export database, applied in file-name order."""
