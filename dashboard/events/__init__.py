"""The events pages (admins): dead letters, stuck ledger rows, the CORS check."""
