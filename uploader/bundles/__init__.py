"""'Download all' as one zip: a Bundle row, made by a worker from S3 to S3 (docs/bundles.md)."""
