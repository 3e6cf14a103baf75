"""Portal management: every change to a Portal happens here.

Staff (and the command line) create portals, change them, rotate their links and
disable them. Each change is checked against the actor's role, validated with
`full_clean`, saved and audited in one transaction; a live portal's visitors see
the change on their next request.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from uploader.access.principals import STAFF_SCOPE
from uploader.access.roles import Permission, has_permission, require_permission
from uploader.audit.services import audit_record
from uploader.notify import webhook_http as webhook_delivery
from uploader.portals import tokens as portal_tokens
from uploader.portals.models import Portal, ProcessingOption
from uploader.uploads.limits import normalize_content_type

RESERVED_SLUGS = frozenset({STAFF_SCOPE, "unknown", "file", "api", "admin"})
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EXTENSION = re.compile(r"^\.[a-z0-9][a-z0-9_-]{0,15}$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}

# The fields portal_update accepts; anything else is refused, not ignored.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "title",
        "welcome_message",
        "brand_colour",
        "expires_at",
        "is_active",
        "max_file_bytes",
        "max_files",
        "max_total_bytes",
        "allowed_extensions",
        "allowed_content_types",
        "require_name",
        "require_email",
        "notify_emails",
        "notify_webhooks",
        "processing",
        "retention_days",
        "password",
        # Files the malware scanner cannot scan: released at once instead of held for an
        # admin (uploader.scanning). Only an admin may set it (_check_release_policy).
        "release_unscannable",
    }
)


def parse_size(text: str | int | None) -> int | None:
    """'50 MiB', '2GB', '1048576' → bytes; empty → None (no limit)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match or (match.group(2) or "").lower() not in _UNITS:
        raise ValidationError(f"'{text[:40]}' is not a size; write e.g. 50 MiB, 2 GB or a number of bytes.")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def parse_list(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Comma-, space- or newline-separated text (or a list) → list of non-empty items."""
    if text is None:
        return []
    items = re.split(r"[,\s]+", text) if isinstance(text, str) else list(text)
    return [item.strip() for item in items if item and item.strip()]


def normalize_extensions(values: list[str]) -> list[str]:
    result = []
    for value in values:
        extension = "." + value.strip().lower().lstrip("*").lstrip(".")
        if not _EXTENSION.match(extension):
            raise ValidationError({"allowed_extensions": f"'{value[:20]}' is not a file extension such as .pdf."})
        if extension not in result:
            result.append(extension)
    return result


def normalize_content_types(values: list[str]) -> list[str]:
    result = []
    for value in values:
        try:
            content_type = normalize_content_type(value)
        except Exception:  # noqa: BLE001 - turned into a form error below
            content_type = ""
        if not content_type or content_type == "*/*" or content_type.startswith("*"):
            raise ValidationError({"allowed_content_types": f"'{value[:40]}' is not a content type such as image/*."})
        if content_type not in result:
            result.append(content_type)
    return result


def normalize_emails(values: list[str]) -> list[str]:
    for value in values:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"notify_emails": f"'{value[:60]}' is not an e-mail address."}) from None
    return list(dict.fromkeys(values))


def normalize_webhooks(values: list[str]) -> list[str]:
    """Webhook URLs (uploader.notify.webhook_http.validate_webhook_url): https, no
    user:password@, at most five; http://127.0.0.1 only when loopback is allowed."""
    try:
        return webhook_delivery.validate_webhook_urls(values, allow_loopback=settings.INTAKE_WEBHOOKS_ALLOW_LOOPBACK)
    except ValidationError as exc:
        raise ValidationError({"notify_webhooks": exc.messages}) from None


def normalize_processing(values: list[str]) -> list[str]:
    """Processing option names (see ProcessingOption), in their canonical order."""
    wanted = [value.strip().lower().replace("-", "_") for value in values]
    unknown = [value for value in wanted if value not in ProcessingOption.values]
    if unknown:
        raise ValidationError(
            {
                "processing": f"'{unknown[0][:40]}' is not a processing option; "
                f"choose from {', '.join(ProcessingOption.values)}."
            }
        )
    return [option for option in ProcessingOption.values if option in wanted]


def _apply(portal: Portal, values: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """Set the normalized values on the portal; return what changed and every parsing
    error by field, so a form shows them all at once."""
    changed: list[str] = []
    errors: dict[str, list[str]] = {}
    for field, value in values.items():
        try:
            new = _normalized(field, value)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
            continue
        if getattr(portal, field) != new:
            setattr(portal, field, new)
            changed.append(field)
    return changed, errors


def _validate(portal: Portal, parse_errors: dict[str, list[str]] | None = None) -> None:
    """All of a portal's problems at once, by field (the form shows each by its field)."""
    errors: dict[str, list[str]] = {field: list(messages) for field, messages in (parse_errors or {}).items()}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not _HEX_COLOUR.match(portal.brand_colour or ""):
        add("brand_colour", "The colour must be a hex colour such as #1f5fbf.")
    for name in ("max_file_bytes", "max_total_bytes", "max_files"):
        value = getattr(portal, name)
        if name not in errors and value is not None and value < 1:
            add(name, "A limit must be at least 1 (leave it empty for no limit).")
    if "max_file_bytes" not in errors and (portal.max_file_bytes or 0) > settings.INTAKE_MAX_UPLOAD_BYTES:
        add("max_file_bytes", "A portal cannot accept larger files than the site-wide upload limit.")
    if portal.slug in RESERVED_SLUGS:
        add("slug", f"'{portal.slug}' is reserved; choose another.")
    try:
        portal.full_clean(exclude=list(errors))
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    portal.brand_colour = portal.brand_colour.lower()


def _normalized(field: str, value: Any) -> Any:
    if field in {"max_file_bytes", "max_total_bytes"}:
        return parse_size(value)
    if field == "max_files":
        return None if value in (None, "") else int(value)
    if field == "allowed_extensions":
        return normalize_extensions(parse_list(value))
    if field == "allowed_content_types":
        return normalize_content_types(parse_list(value))
    if field == "notify_emails":
        return normalize_emails(parse_list(value))
    if field == "notify_webhooks":
        return normalize_webhooks(parse_list(value))
    if field == "processing":
        return normalize_processing(parse_list(value))
    if field in {"name", "title"}:
        return str(value).strip()
    if field == "retention_days":
        return parse_days(value)
    return value


def parse_days(value: Any) -> int | None:
    """A retention period in whole days; empty means none (keep files)."""
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError("Enter a whole number of days, or leave it empty to keep files.") from None


def _check_retention_actor(actor: Any, portal: Portal, changed: list[str]) -> None:
    """Retention deletes files for good, so only those who may delete files (admins)
    set or change it; None is the command line."""
    if actor is not None and "retention_days" in changed and not has_permission(actor, Permission.DELETE_FILES):
        raise ValidationError({"retention_days": ["Only an admin can change how long files are kept."]})


def _check_actor(actor: Any) -> None:
    """People need the manage-portals permission; None is the command line (a system actor)."""
    if actor is not None:
        require_permission(actor, Permission.MANAGE_PORTALS)


def _check_release_policy(actor: Any, portal: Portal, options: dict[str, Any]) -> None:
    """Releasing unscanned files is an admin's decision (Permission.RELEASE_FILES),
    whoever else manages the portal."""
    if actor is not None and "release_unscannable" in options and bool(options["release_unscannable"]) != (
        portal.release_unscannable
    ):
        require_permission(actor, Permission.RELEASE_FILES)


def portal_link(portal: Portal) -> str:
    """The portal's full link, shown to staff and printed by the command line."""
    path = reverse("portal:page", kwargs={"portal_token": portal_tokens.token_for(portal.token_nonce)})
    return settings.INTAKE_PUBLIC_BASE_URL.rstrip("/") + path


def _free_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is not taken (the database's unique
    constraint still decides a race)."""
    if not base:
        return base  # validation says the name is needed
    taken = set(Portal.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"-{number}"
        candidate, number = f"{base[: 50 - len(suffix)]}{suffix}", number + 1
    return candidate


def portal_create(*, actor: Any, name: str, slug: str = "", title: str = "", **options: Any) -> Portal:
    """Create a portal with a fresh link. `options` are the editable fields
    (limits as sizes such as '50 MiB', lists as comma-separated text or lists,
    `password` in the clear: it is hashed here)."""
    _check_actor(actor)
    unknown = set(options) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown portal option(s): {', '.join(sorted(unknown))}.")
    name = name.strip()
    portal = Portal(
        name=name,
        # A slug typed in must be free; one made from the name gets a number if taken.
        slug=slugify(slug)[:50] if slug else _free_slug(slugify(name)[:50]),
        title=(title or name).strip(),
        created_by=actor if actor is not None and getattr(actor, "pk", None) else None,
    )
    password = options.pop("password", None)
    _check_release_policy(actor, portal, options)
    set_fields, parse_errors = _apply(portal, options)
    _check_retention_actor(actor, portal, set_fields)
    if password:
        portal.password_hash = make_password(password)
    nonce = portal_tokens.new_nonce()
    portal.token_nonce = nonce
    portal.token_digest = portal_tokens.digest_of(portal_tokens.token_for(nonce))
    _validate(portal, parse_errors)
    with transaction.atomic():
        portal.save(force_insert=True)
        audit_record(action="portal.created", user=actor, detail=_describe(portal))
    return portal


def portal_update(*, actor: Any, portal: Portal, **changes: Any) -> Portal:
    """Change a portal; takes effect on its visitors' next request. `password`:
    None leaves it, "" removes it, anything else replaces it."""
    _check_actor(actor)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown portal option(s): {', '.join(sorted(unknown))}.")
    password = changes.pop("password", None)
    _check_release_policy(actor, portal, changes)
    changed, parse_errors = _apply(portal, changes)
    _check_retention_actor(actor, portal, changed)
    if password is not None:
        portal.password_hash = make_password(password) if password else ""
        changed.append("password" if password else "password removed")
    if "is_active" in changed:
        portal.disabled_at = None if portal.is_active else timezone.now()
    _validate(portal, parse_errors)
    if not changed:
        return portal
    with transaction.atomic():
        # Only what this edit set: a link rotation or logo change that committed while
        # the form was open must not be overwritten by the form's stale copy.
        fields = {field for field in EDITABLE_FIELDS if field != "password"} | {"password_hash", "disabled_at", "updated_at"}
        portal.save(update_fields=sorted(fields))
        audit_record(action="portal.changed", user=actor, detail={**_describe(portal), "changed": changed})
    return portal


def portal_disable(*, actor: Any, portal: Portal) -> Portal:
    """Close the portal at once: its page shows a plain notice and signs nothing."""
    _check_actor(actor)
    if not portal.is_active:
        return portal
    with transaction.atomic():
        portal.is_active = False
        portal.disabled_at = timezone.now()
        portal.save(update_fields=["is_active", "disabled_at", "updated_at"])
        audit_record(action="portal.disabled", user=actor, detail=_describe(portal))
    return portal


def portal_reopen(*, actor: Any, portal: Portal) -> Portal:
    """Open a disabled portal again: its link (the same one) accepts files again. A
    portal past its closing date stays closed until that date is changed."""
    _check_actor(actor)
    if portal.is_active:
        return portal
    with transaction.atomic():
        portal.is_active = True
        portal.disabled_at = None
        portal.save(update_fields=["is_active", "disabled_at", "updated_at"])
        audit_record(action="portal.reopened", user=actor, detail=_describe(portal))
    return portal


def portal_rotate_link(*, actor: Any, portal: Portal) -> Portal:
    """A new link; the old one stops working with this commit."""
    _check_actor(actor)
    nonce = portal_tokens.new_nonce()
    with transaction.atomic():
        portal.token_nonce = nonce
        portal.token_digest = portal_tokens.digest_of(portal_tokens.token_for(nonce))
        portal.link_rotated_at = timezone.now()
        portal.save(update_fields=["token_nonce", "token_digest", "link_rotated_at", "updated_at"])
        audit_record(action="portal.link_rotated", user=actor, detail=_describe(portal))
    return portal


def portal_is_open(portal: Portal, *, now: dt.datetime | None = None) -> bool:
    return portal.is_active and (portal.expires_at is None or portal.expires_at > (now or timezone.now()))


def _describe(portal: Portal) -> dict[str, Any]:
    """What the audit trail keeps about a portal: never its token or password hash."""
    return {
        "portal": portal.pk,
        "slug": portal.slug,
        "name": portal.name,
        "is_active": portal.is_active,
        "expires_at": portal.expires_at.isoformat() if portal.expires_at else None,
        "has_password": bool(portal.password_hash),
        "max_file_bytes": portal.max_file_bytes,
        "max_files": portal.max_files,
        "max_total_bytes": portal.max_total_bytes,
        "allowed_extensions": portal.allowed_extensions,
        "allowed_content_types": portal.allowed_content_types,
        "processing": portal.processing,
        "retention_days": portal.retention_days,
        "release_unscannable": portal.release_unscannable,
        # Origins only: a webhook URL's path often carries the receiver's secret.
        "notify_webhooks": [webhook_delivery.origin_of(url) for url in portal.notify_webhooks],
    }
