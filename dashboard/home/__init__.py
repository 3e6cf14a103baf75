"""The staff home page and upload page."""
