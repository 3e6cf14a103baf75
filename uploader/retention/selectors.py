"""What the portal page says about keeping its files: the retention rule, how many
files are due soon, and how many are on legal hold (a portal-wide hold's progress)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from uploader.portals.models import Portal
from uploader.retention import holds, policy

DUE_SOON = dt.timedelta(days=7)


@dataclass(frozen=True)
class Keeping:
    retention_days: int | None
    # Stored files not on hold that retention deletes on its next run / within DUE_SOON.
    due_now: int
    due_soon: int
    held: int
    stored: int


def portal_keeping(portal: Portal) -> Keeping:
    now = timezone.now()
    counts = holds.portal_hold_counts(portal)
    rule = policy.portal_rule(portal)
    return Keeping(
        retention_days=portal.retention_days,
        due_now=policy.uploads_due(rule, now=now).count(),
        due_soon=policy.uploads_due(rule, now=now, within=DUE_SOON).count(),
        held=counts.held,
        stored=counts.stored,
    )
