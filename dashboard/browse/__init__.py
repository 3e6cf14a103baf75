"""The file browser: search, filters, a page per file, downloads."""
