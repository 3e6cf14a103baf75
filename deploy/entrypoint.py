"""The image's one entrypoint: `python -m deploy.entrypoint COMMAND [ARGS...]`.

    web        gunicorn with gunicorn.conf.py (the site, the API, /healthz/)
    worker     the Celery worker
    beat       Celery beat, the scheduler (run exactly one)
    consumer   the S3 event consumer (SQS -> the ledger)
    migrate    apply database migrations once: replicas started together wait on a
               PostgreSQL advisory lock, then find nothing to do
    manage     any manage.py command (`manage createsuperuser`, `manage doctor`, ...)
    healthcheck  GET /healthz/live of the web process here (the image's HEALTHCHECK)

If INTAKE_ENV_FILE names a file (the one deploy/render_env.py writes), its values are
added to the environment first (the environment wins where both set a name); a
malformed file stops start-up naming the line. Each command replaces this process
(exec), so signals from the container engine reach gunicorn, Celery or the consumer
directly. Standard library only: it runs before anything is configured.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from deploy.envfile import EnvFileError, parse_env_file

ROOT = Path(__file__).resolve().parent.parent
# One command line per process type; `python` is the interpreter running this.
Command = Callable[[Sequence[str], Mapping[str, str]], list[str]]


def _python() -> str:
    return sys.executable or "python3"


def _var_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("INTAKE_VAR_DIR") or "/tmp/intake")  # noqa: S108 - the image's writable scratch folder


def web(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    return [_python(), "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), *args]


# --quiet: no start-up banner, so each line the worker and beat write is a log line.
def worker(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    concurrency = environ.get("CELERY_WORKER_CONCURRENCY", "")
    # A child that processed a very large image is replaced instead of growing
    # (docs/operations.md, production checklist); in KiB.
    memory = environ.get("CELERY_WORKER_MAX_MEMORY_PER_CHILD", "600000")
    return [
        _python(), "-m", "celery", "--quiet", "--app", "config", "worker", "--loglevel", environ.get("DJANGO_LOG_LEVEL", "INFO"),
        "--max-memory-per-child", memory, *(["--concurrency", concurrency] if concurrency else []), *args,
    ]  # fmt: skip


def beat(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    schedule = _var_dir(environ) / "celerybeat-schedule"
    return [
        _python(), "-m", "celery", "--quiet", "--app", "config", "beat", "--loglevel", environ.get("DJANGO_LOG_LEVEL", "INFO"),
        "--schedule", str(schedule), *args,
    ]  # fmt: skip


def consumer(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    # --verbosity 0: its start and stop lines go through logging (JSON), not print.
    return [_python(), str(ROOT / "manage.py"), "consume_s3_events", "--verbosity", "0", *args]


def migrate(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    return [_python(), str(ROOT / "manage.py"), "migrate_locked", *args]


def manage(args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    return [_python(), str(ROOT / "manage.py"), *args]


COMMANDS: dict[str, Command] = {
    "web": web,
    "worker": worker,
    "beat": beat,
    "consumer": consumer,
    "migrate": migrate,
    "manage": manage,
}


def healthcheck(environ: Mapping[str, str]) -> int:
    """0 when /healthz/live answers 200. Sent as the proxy would send it (the site's
    host name, https), so ALLOWED_HOSTS and the HTTPS redirect let it through."""
    hosts = [h.strip().lstrip(".") for h in environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h for h in hosts if h != "*"), "localhost")
    request = urllib.request.Request(  # a fixed http URL on this container
        f"http://127.0.0.1:{environ.get('PORT', '8000')}/healthz/live",
        headers={"Host": host, "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=4) as answer:  # noqa: S310
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


def _usage() -> str:
    return "valid commands: " + ", ".join([*COMMANDS, "healthcheck"])


def environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment the command runs with: `base`, plus INTAKE_ENV_FILE's values
    for names `base` does not set."""
    merged = dict(base)
    path = base.get("INTAKE_ENV_FILE")
    if path:
        for name, value in parse_env_file(Path(path)).items():
            merged.setdefault(name, value)
    return merged


def command_line(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The command line COMMAND runs; ValueError for an unknown command."""
    if not argv:
        raise ValueError(f"no command given; {_usage()}")
    if argv[0] not in COMMANDS:
        raise ValueError(f"unknown command {argv[0]!r}; {_usage()}")
    return COMMANDS[argv[0]](argv[1:], environ)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        env = environment(os.environ)
    except EnvFileError as exc:
        print(f"entrypoint: {exc}", file=sys.stderr)
        return 2
    if argv[:1] == ["healthcheck"]:
        return healthcheck(env)
    try:
        args = command_line(argv, env)
    except ValueError as exc:
        print(f"entrypoint: {exc}", file=sys.stderr)
        return 2
    _var_dir(env).mkdir(parents=True, exist_ok=True)
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus-client's multiprocess mode needs the directory, and the web server
        # needs it empty at start (a restarted container keeps its /tmp): else the last
        # run's workers' figures would be added to this one's.
        metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
        if argv[0] == "web":
            shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    sys.stdout.flush()
    os.execve(args[0], args, env)  # noqa: S606 - the command table above, no shell


if __name__ == "__main__":
    sys.exit(main())
