"""The stats page."""
