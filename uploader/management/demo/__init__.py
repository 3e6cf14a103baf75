"""Demo data for `manage.py seed_demo` (generate.py makes rows, load.py writes them)."""
