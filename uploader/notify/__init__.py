"""Telling people: portal digests, receipts and signed webhooks."""
