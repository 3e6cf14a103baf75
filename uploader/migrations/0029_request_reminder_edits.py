"""Staff may switch a request's reminders off, and change its schedule after it is
made: an overdue round's slot is now named by the day it starts
("overdue:<due>:<first day>") instead of its number, so a changed interval makes new
rounds rather than matching the numbers of rounds already sent. Rows already written
are renamed with the interval they were sent under (it could not change before)."""

import datetime as dt

from django.db import migrations, models


def _renamed(slot: str, every_days: int | None, *, to_days: bool) -> str | None:
    kind, _, rest = slot.partition(":")
    due, _, round_ = rest.partition(":")
    if kind != "overdue" or not every_days:
        return None
    try:
        due_date = dt.date.fromisoformat(due)
        if to_days:
            return f"overdue:{due}:{due_date + dt.timedelta(days=int(round_) * every_days)}"
        return f"overdue:{due}:{(dt.date.fromisoformat(round_) - due_date).days // every_days}"
    except ValueError:  # already in the other form
        return None


def _rename(apps, *, to_days: bool) -> None:  # type: ignore[no-untyped-def]
    reminder_model = apps.get_model("uploader", "RequestReminder")
    rows = reminder_model.objects.filter(slot__startswith="overdue:").select_related("request")
    for row in rows.iterator():
        slot = _renamed(row.slot, row.request.remind_overdue_every_days, to_days=to_days)
        # Going back, rounds sent under a later interval may share a number: keep those.
        if slot is not None and not reminder_model.objects.filter(request_id=row.request_id, slot=slot).exists():
            reminder_model.objects.filter(pk=row.pk).update(slot=slot)


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    _rename(apps, to_days=True)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    _rename(apps, to_days=False)


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0028_upload_monthly_breakdown"),
    ]

    operations = [
        migrations.AddField(
            model_name="documentrequest",
            name="send_reminders",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
