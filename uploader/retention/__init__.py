"""Keeping and not keeping files: legal holds (`holds`) and retention per portal (`policy`)."""
