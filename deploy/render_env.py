"""Write Intake's production environment file from the deployment stack's outputs.

    python deploy/render_env.py --stack intake-acme [--region eu-west-1] [--out .env]
    python deploy/render_env.py --outputs-json stack.json   # `aws cloudformation describe-stacks` output

The stack's outputs are named after the settings they feed (IntakeS3Bucket ->
INTAKE_S3_BUCKET; see deploy/intake.yaml). To them this adds what only the operator
has: DATABASE_URL and REDIS_URL (flags or the environment), and two secrets it
generates unless the environment already has them (DJANGO_SECRET_KEY,
INTAKE_WEBHOOK_SIGNING_KEY). The Cognito client secret is never a stack output: the
file gets a placeholder line and the command that reads it. Nor is CloudFront's
private signing key (only its public half went into the stack): the file names the
key file the operator puts on the server (INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE). An existing file is
never overwritten without --force. Standard library and boto3 only.

With --compose the file is for deploy/compose.yaml (one machine): the database and
Redis are the compose services (a generated database password), and the site's
domain for Caddy's certificate comes from INTAKE_PUBLIC_BASE_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SETTING_OUTPUT = re.compile(r"(Intake|Django)[A-Z0-9][A-Za-z0-9]*")
_WORD = re.compile(r"[A-Z][a-z]*[0-9]*|[0-9]+")
# Outputs written commented out, with the reason (none today: setup_bucket keeps the
# stack's own notification rule when it finds one that does what it would write).
COMMENTED_OUT: dict[str, str] = {}
COMPLETE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


class RenderError(Exception):
    """Something the operator must fix; printed without a traceback."""


def setting_name(output_key: str) -> str | None:
    """INTAKE_S3_EVENTS_DLQ_URL for IntakeS3EventsDlqUrl; None for outputs that feed no setting."""
    if not SETTING_OUTPUT.fullmatch(output_key):
        return None
    return "_".join(word.upper() for word in _WORD.findall(output_key))


def outputs_from_describe_stacks(document: Mapping[str, Any], stack: str | None = None) -> dict[str, str]:
    """{OutputKey: OutputValue} of the one stack in a describe-stacks answer (or the named one)."""
    stacks = document.get("Stacks")
    if not isinstance(stacks, list) or not stacks:
        raise RenderError("no stack in the describe-stacks output")
    if stack is not None:
        stacks = [s for s in stacks if stack in {s.get("StackName"), s.get("StackId")}]
    if len(stacks) != 1:
        raise RenderError("the describe-stacks output must hold exactly one stack (name it with --stack)")
    found = stacks[0]
    status = found.get("StackStatus")
    if status is not None and status not in COMPLETE_STATES:
        raise RenderError(f"stack {found.get('StackName')} is {status}; wait for it to complete")
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in found.get("Outputs") or []}


def outputs_from_aws(stack: str, region: str | None) -> dict[str, str]:
    import boto3  # only this path needs AWS
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack)
    except (BotoCoreError, ClientError) as exc:
        raise RenderError(f"cannot read stack {stack}: {exc}") from exc
    return outputs_from_describe_stacks(answer, stack)


def _line(name: str, value: str) -> str:
    if any(c in value for c in "\n\r\"'") or value != value.strip():
        raise RenderError(f"{name}: value {value!r} cannot be written to an environment file safely")
    return f"{name}={value}"


def render(
    outputs: Mapping[str, str], *, environ: Mapping[str, str], database_url: str | None, redis_url: str | None
) -> tuple[str, list[str]]:
    """The file's text and what the operator still has to do by hand."""
    settings = {name: value for key, value in outputs.items() if (name := setting_name(key))}
    missing_outputs = {"INTAKE_S3_BUCKET", "INTAKE_COGNITO_USER_POOL_ID", "INTAKE_PUBLIC_BASE_URL"} - settings.keys()
    if missing_outputs:
        raise RenderError(f"the stack has no output for {', '.join(sorted(missing_outputs))}: is it Intake's stack?")

    todo: list[str] = []
    lines = [
        "# Intake production environment, written by deploy/render_env.py from the stack's outputs.",
        "# Secrets are in this file: keep it out of version control, readable by the app only.",
        "DJANGO_SETTINGS_MODULE=config.settings.production",
        "",
        "# From the stack",
    ]
    for name in sorted(settings):
        if name in COMMENTED_OUT:
            lines.append(f"# {COMMENTED_OUT[name]}:")
            lines.append("# " + _line(name, settings[name]))
        else:
            lines.append(_line(name, settings[name]))

    lines += ["", "# Secrets (generated here unless the environment had them)"]
    for name, size in (("DJANGO_SECRET_KEY", 50), ("INTAKE_WEBHOOK_SIGNING_KEY", 32)):
        lines.append(_line(name, environ.get(name) or secrets.token_urlsafe(size)))

    lines += ["", "# Only you have these"]
    for name, value, example in (
        ("DATABASE_URL", database_url or environ.get("DATABASE_URL"), "postgres://USER:PASSWORD@HOST:5432/intake"),
        ("REDIS_URL", redis_url or environ.get("REDIS_URL"), "redis://HOST:6379/0"),
    ):
        if value:
            lines.append(_line(name, value))
        else:
            lines += [f"# e.g. {example}", f"{name}="]
            todo.append(f"set {name} (e.g. {example})")

    pool, client = settings.get("INTAKE_COGNITO_USER_POOL_ID", ""), settings.get("INTAKE_COGNITO_CLIENT_ID", "")
    region = settings.get("INTAKE_COGNITO_REGION", "")
    secret_command = (
        f"aws cognito-idp describe-user-pool-client --region {region} --user-pool-id {pool} "
        f"--client-id {client} --query UserPoolClient.ClientSecret --output text"
    )
    secret = environ.get("INTAKE_COGNITO_CLIENT_SECRET")
    if secret:
        lines.append(_line("INTAKE_COGNITO_CLIENT_SECRET", secret))
    else:
        lines.append(f"# {secret_command}")
        lines.append("INTAKE_COGNITO_CLIENT_SECRET=")
        todo.append(f"set INTAKE_COGNITO_CLIENT_SECRET to the output of: {secret_command}")
    if not (environ.get("DJANGO_EMAIL_HOST_USER") and environ.get("DJANGO_EMAIL_HOST_PASSWORD")):
        lines += [
            "# SES SMTP credentials (SES console -> SMTP settings -> Create SMTP credentials)",
            "DJANGO_EMAIL_HOST_USER=",
            "DJANGO_EMAIL_HOST_PASSWORD=",
        ]
        todo.append("set DJANGO_EMAIL_HOST_USER and DJANGO_EMAIL_HOST_PASSWORD (SES SMTP credentials)")
    else:
        lines.append(_line("DJANGO_EMAIL_HOST_USER", environ["DJANGO_EMAIL_HOST_USER"]))
        lines.append(_line("DJANGO_EMAIL_HOST_PASSWORD", environ["DJANGO_EMAIL_HOST_PASSWORD"]))
    if settings.get("INTAKE_CLOUDFRONT_DOMAIN"):
        todo += _cloudfront_private_key(lines, environ)
    return "\n".join(lines) + "\n", todo


def _cloudfront_private_key(lines: list[str], environ: Mapping[str, str]) -> list[str]:
    """The CloudFront private key's line: a path from the environment, or a placeholder.
    The key itself never goes through this script or into the stack."""
    key_file = environ.get("INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE")
    if key_file:
        lines.append(_line("INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE", key_file))
        return []
    lines += [
        "# The private half of the key pair whose public half the stack holds (docs/deploy.md),",
        "# as a file readable by the app only; the app refuses to start without it.",
        "INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE=",
    ]
    return [
        "set INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE to the path of CloudFront's private signing key "
        "(the stack has only its public half; docs/deploy.md)"
    ]


def compose_lines(outputs: Mapping[str, str], *, password: str) -> list[str]:
    """The values deploy/compose.yaml reads besides the app's: the database password
    its PostgreSQL starts with, the domain Caddy gets a certificate for, and the one
    proxy (Caddy) in front of Django."""
    base_url = next((value for key, value in outputs.items() if setting_name(key) == "INTAKE_PUBLIC_BASE_URL"), "")
    domain = urllib.parse.urlsplit(base_url).hostname or ""
    if not domain:
        raise RenderError(f"INTAKE_PUBLIC_BASE_URL {base_url!r} names no host for Caddy's certificate")
    return [
        "",
        "# For deploy/compose.yaml (one machine)",
        _line("INTAKE_DB_PASSWORD", password),
        _line("INTAKE_SITE_DOMAIN", domain),
        "INTAKE_TRUSTED_PROXIES=1",
    ]


def compose_urls(environ: Mapping[str, str]) -> tuple[str, str, str]:
    """DATABASE_URL and REDIS_URL of the compose services, and the database password."""
    password = environ.get("INTAKE_DB_PASSWORD") or secrets.token_urlsafe(24)
    quoted = urllib.parse.quote(password, safe="")
    return f"postgres://intake:{quoted}@db:5432/intake", "redis://redis:6379/0", password


def write_new(path: Path, text: str, *, force: bool) -> None:
    """Create the file readable by its owner only; an existing one only with force."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise RenderError(f"{path} exists; not overwriting it without --force") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="CloudFormation stack name (read with boto3)")
    source.add_argument(
        "--outputs-json", type=Path, metavar="FILE", help="saved `aws cloudformation describe-stacks` output"
    )
    parser.add_argument("--region", default=None, help="the stack's region (default: boto3's)")
    parser.add_argument("--out", type=Path, default=Path(".env"), help="file to write (default: .env, read by the app)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: $DATABASE_URL)")
    parser.add_argument("--redis-url", default=None, help="Redis URL (default: $REDIS_URL)")
    parser.add_argument(
        "--compose", action="store_true", help="for deploy/compose.yaml: its PostgreSQL and Redis, and Caddy's domain"
    )
    args = parser.parse_args(argv)
    if args.compose and (args.database_url or args.redis_url):
        parser.error("--compose runs its own PostgreSQL and Redis; leave out --database-url and --redis-url")
    try:
        if args.outputs_json is not None:
            try:
                document = json.loads(args.outputs_json.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RenderError(f"cannot read {args.outputs_json}: {exc}") from exc
            outputs = outputs_from_describe_stacks(document)
        else:
            outputs = outputs_from_aws(args.stack, args.region)
        database_url, redis_url = args.database_url, args.redis_url
        if args.compose:
            database_url, redis_url, password = compose_urls(os.environ)
        text, todo = render(outputs, environ=os.environ, database_url=database_url, redis_url=redis_url)
        if args.compose:
            text += "\n".join(compose_lines(outputs, password=password)) + "\n"
        write_new(args.out, text, force=args.force)
    except RenderError as exc:
        print(f"render_env: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    if todo:
        print("still to do by hand:")
        for item in todo:
            print(f"  - {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
