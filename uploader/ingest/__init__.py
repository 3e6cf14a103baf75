"""S3 events in: SQS, SNS and push sources, the parser, the exactly-once ledger, reconciliation and dead letters."""
