"""`manage.py ensure_staff_user`: make sure a local staff account exists (for `make run`)."""

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create (or keep) a staff superuser for local sign-in and print how to sign in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password-file", type=Path, required=True, help="Where the generated password is kept.")

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        password_file: Path = options["password_file"]
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None or not password_file.is_file():
            # A fresh random password per machine: no shared default credentials.
            password = secrets.token_urlsafe(12)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
            if user is None:
                user = user_model.objects.create_superuser(username=username, email="", password=password)
                self.stdout.write(f"created staff user {username}")
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
        else:
            password = password_file.read_text().strip()
            if not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
        self.stdout.write(f"sign in as: {username} / {password}  (kept in {password_file})")
