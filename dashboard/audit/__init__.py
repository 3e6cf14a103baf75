"""The audit page and its CSV export (admins)."""
