"""`make run`: Intake on embedded defaults, no AWS account and no server to install.

Starts the S3 emulator, prepares the database and bucket, makes sure a staff account
exists, then runs a Celery worker (filesystem broker), Celery beat, the S3 event
consumer (the emulator delivers the bucket's events to its own SQS) and Django, under
a supervisor (scripts/supervisor.py) that restarts a process that dies or gets stuck.
Ctrl-C (or SIGTERM) stops everything it started. Every step says what it is doing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from emulator import S3Emulator, die_with_parent, port_in_use  # noqa: E402
from supervisor import Service, Supervisor  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.support.clamd import Clamd, ClamdError  # noqa: E402  (standard library only)

VENV_BIN = Path(sys.executable).parent


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM stops the run like Ctrl-C does, through the same clean-up.
    raise KeyboardInterrupt


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    var_dir = Path(os.environ.get("INTAKE_VAR_DIR", ROOT / "var"))
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    if port_in_use(port):
        print(f"error: port {port} is in use; stop what uses it or run with PORT=<free port>", file=sys.stderr)
        return 1

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    env["INTAKE_VAR_DIR"] = str(var_dir)
    # Portal links are made with it: point them at this server.
    env.setdefault("INTAKE_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    # A business identity for the client pages, so a local run looks like the real thing.
    env.setdefault("INTAKE_BUSINESS_NAME", "Example Accounting")
    env.setdefault("INTAKE_BUSINESS_CONTACT_EMAIL", "office@example.test")
    env.setdefault("INTAKE_BUSINESS_CONTACT_PHONE", "+1 555 0100")
    env.setdefault("INTAKE_CORS_ALLOWED_ORIGINS", f"http://127.0.0.1:{port},http://localhost:{port}")
    env.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    # glibc gives each thread that allocates at once an arena of its own (up to 8 per
    # core) and rarely returns them, so a process keeps the memory of its busiest moment.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    # The web process is the image's: gunicorn with gunicorn.conf.py. One worker with a
    # fixed pool of threads, because SQLite has one writer and a thread per request
    # (runserver) grew with every burst of clients (docs/benchmarks.md, "Soak").
    env.setdefault("GUNICORN_BIND_HOST", "127.0.0.1")
    env["PORT"] = str(port)
    env.setdefault("GUNICORN_WORKERS", "1")
    env.setdefault("GUNICORN_THREADS", "8")

    emulator: S3Emulator | None = None
    clamd: Clamd | None = None
    supervisor = Supervisor(
        cwd=ROOT,
        env=env,
        say=step,
        readiness_url=f"http://127.0.0.1:{port}/healthz/ready",
        preexec_fn=die_with_parent,
    )

    def run_manage(*args: str) -> None:
        subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)

    try:
        if "INTAKE_S3_ENDPOINT_URL" not in os.environ:
            emulator_port = int(os.environ.get("INTAKE_EMULATOR_PORT", "9000"))
            step(f"starting the S3 emulator on http://127.0.0.1:{emulator_port} (log: {log_dir / 'emulator.log'})")
            emulator = S3Emulator(port=emulator_port, log_path=log_dir / "emulator.log").start()
            env["INTAKE_S3_ENDPOINT_URL"] = emulator.endpoint_url
            env.setdefault("INTAKE_S3_CREATE_BUCKET", "true")
            # The emulator accepts any credentials; these only make boto3 sign.
            env.setdefault("AWS_ACCESS_KEY_ID", "intake-local")
            env.setdefault("AWS_SECRET_ACCESS_KEY", "intake-local-secret")
        if env.get("INTAKE_SCANNER", "clamd") == "clamd" and "INTAKE_CLAMD_ADDRESS" not in os.environ:
            # Its only signature is the EICAR test file's (no database can be downloaded
            # here): upload the EICAR string to see a file refused (docs/scanning.md).
            step(f"starting clamd, the malware scanner (directory: {var_dir / 'clamd'})")
            (var_dir / "clamd").mkdir(exist_ok=True)
            try:
                clamd = Clamd(directory=str(var_dir / "clamd")).start()
                env["INTAKE_CLAMD_ADDRESS"] = clamd.address
                env["INTAKE_SCANNER"] = "clamd"
            except ClamdError as exc:
                step(f"clamd could not start ({exc}); files are marked not scanned (INTAKE_SCANNER=none)")
                env["INTAKE_SCANNER"] = "none"
        step("applying database migrations")
        run_manage("migrate", "--no-input", "-v", "0")
        step("configuring the bucket (CORS, lifecycle, encryption, events)")
        run_manage("setup_bucket", "--create-queue", "intake-events")
        if not env.get("INTAKE_S3_EVENTS_QUEUE_URL"):
            # Every process learns the queue the consumer reads, so the events page
            # (dead letters, the queue's depth) and the doctor see the one in use.
            env["INTAKE_S3_EVENTS_QUEUE_URL"] = subprocess.run(
                [
                    str(VENV_BIN / "python"),
                    "manage.py",
                    "shell",
                    "-c",
                    "from uploader.ingest.sqs_consumer import queue_url_for; print(queue_url_for('intake-events'))",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip().splitlines()[-1]
        step("making sure a staff account exists")
        run_manage("ensure_staff_user", "--password-file", str(var_dir / "admin-password.txt"))
        (var_dir / "broker" / "queue").mkdir(parents=True, exist_ok=True)
        (var_dir / "broker" / "processed").mkdir(parents=True, exist_ok=True)
        celery = str(VENV_BIN / "celery")
        step(f"starting the Celery worker (log: {log_dir / 'worker.log'})")
        supervisor.add(
            Service(
                "the Celery worker",
                [celery, "-A", "config", "worker", "-l", "info", "--concurrency", "2"],
                log_dir / "worker.log",
                heartbeat="worker",
            )
        )
        step(f"starting Celery beat, the scheduler (log: {log_dir / 'beat.log'})")
        supervisor.add(
            Service(
                "Celery beat",
                [celery, "-A", "config", "beat", "-l", "info", "--schedule", str(var_dir / "celerybeat-schedule")],
                log_dir / "beat.log",
                # Its tasks are how the worker's heartbeat arrives: a stale one may be either's.
                heartbeat="worker",
            )
        )
        step(f"starting the S3 event consumer (log: {log_dir / 'events.log'})")
        supervisor.add(
            Service(
                "the S3 event consumer",
                [str(VENV_BIN / "python"), "manage.py", "consume_s3_events", "--queue-name", "intake-events"],
                log_dir / "events.log",
                heartbeat="consumer:intake-events",
            )
        )
        step(f"starting Django (gunicorn, as in production) on http://127.0.0.1:{port} (log: {log_dir / 'web.log'})")
        supervisor.add(
            Service(
                "Django",
                [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py")],
                log_dir / "web.log",
            )
        )
        print(
            f"\n  Intake:     http://127.0.0.1:{port}/\n"
            f"  Admin:      http://127.0.0.1:{port}/admin/\n"
            f"  API spec:   http://127.0.0.1:{port}/api/openapi.json\n"
            f"  Readiness:  http://127.0.0.1:{port}/healthz/ready\n"
            f"  S3:         {env['INTAKE_S3_ENDPOINT_URL']} (bucket {env.get('INTAKE_S3_BUCKET', 'intake-local')})\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        while True:
            supervisor.watch_once()
            time.sleep(0.5)
    except KeyboardInterrupt:
        step("stopping")
        return 0
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()
        if clamd is not None:
            clamd.stop()
        if emulator:
            emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
