# File names registered before uploads.keys.display_filename kept invisible format
# characters (a right-to-left override makes "invoice\u202egpj.exe" read as
# "invoiceexe.jpg" on staff pages). Clean the rows that have them; the logic is
# copied here so this migration never changes with the app's code.

import unicodedata

from django.db import migrations

SUSPECTS = r"[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
KEPT = {"\u200c", "\u200d"}


def _clean(name):
    name = unicodedata.normalize("NFC", name)
    kept = "".join(
        ch
        for ch in name
        if unicodedata.category(ch) != "Cc" and (unicodedata.category(ch) != "Cf" or ch in KEPT)
    )
    return kept.strip() or "file"


def clean_names(apps, schema_editor):
    Upload = apps.get_model("uploader", "Upload")
    for upload in Upload.objects.filter(original_filename__regex=SUSPECTS).only("pk", "original_filename").iterator():
        cleaned = _clean(upload.original_filename)
        if cleaned != upload.original_filename:
            Upload.objects.filter(pk=upload.pk).update(original_filename=cleaned)


class Migration(migrations.Migration):
    dependencies = [("uploader", "0014_oidc_identity_from_dashboard")]

    operations = [migrations.RunPython(clean_names, migrations.RunPython.noop)]
