"""Malware scanning of stored files (docs/scanning.md): scanners behind one interface
(`scanners.py`), the scan state's one writer (`state.py`), verdicts, quarantine and
release (`services.py`), GuardDuty's result events (`guardduty.py`), the Celery tasks
and what follows a stored upload (`tasks.py`)."""
