"""Rows made by tests straight through the ORM, counted as the services count theirs."""

from __future__ import annotations

from uploader.uploads import rollup
from uploader.uploads.models import Upload


def count_in_rollup(upload: Upload) -> None:
    """Add a row a test wrote behind the services' back (and then back-dated) to the
    daily rollup and the totals, exactly as the registration service adds a new row
    (a later move through the state writer then keeps it right)."""
    rollup.rollup_apply(before=[], after=[rollup.facts_of(Upload.objects.get(pk=upload.pk))])
