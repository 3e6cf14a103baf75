"""Benchmarks for the upload contract; `make bench` runs bench/run_all.py (see docs/benchmarks.md)."""
