"""Prometheus instruments the domains record into (the signing histogram, Celery
task failures and retries). What is read at scrape time, and the `/metrics` view,
live in `config.metrics`, above every domain."""
