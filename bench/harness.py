"""What every benchmark needs: the environment, the servers, a signed-in session, wrk.

Everything binds to 127.0.0.1. Every process started here is stopped by its owner
(`Stack.close`, `Gunicorn.stop`) and also gets SIGTERM if the benchmark process dies
(scripts/emulator.py's die_with_parent), so an interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from emulator import S3Emulator, die_with_parent, free_port  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ADMIN_DATABASE_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "intake_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BUCKET = "intake-bench"
USERNAME = "bench-staff"
# The emulator accepts any credentials; these only make boto3 sign.
ACCESS_KEY = "intake-bench"
SECRET_KEY = "intake-bench-secret"  # noqa: S105 - not a secret

_started = time.monotonic()


def step(message: str) -> None:
    """A progress line with the time since the run started."""
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", flush=True)


# --- PostgreSQL ------------------------------------------------------------------------


def database_url() -> str:
    base = ADMIN_DATABASE_URL.rsplit("/", 1)[0]
    return f"{base}/{BENCH_DATABASE}"


def ensure_database() -> None:
    """Create the dedicated benchmark database unless it exists."""
    import psycopg
    from psycopg import sql

    with (
        psycopg.connect(ADMIN_DATABASE_URL, autocommit=True, connect_timeout=5) as conn,
        contextlib.suppress(psycopg.errors.DuplicateDatabase),
    ):
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))


# --- The app's environment ------------------------------------------------------------------


def app_env(*, endpoint_url: str, var_dir: Path, fast_signing: bool = True) -> dict[str, str]:
    """Environment for manage.py and gunicorn: PostgreSQL, Redis, the emulator."""
    env = dict(os.environ)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "DJANGO_ALLOWED_HOSTS", "INTAKE_S3_REGION"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": database_url(),
            "REDIS_URL": REDIS_URL,
            "INTAKE_VAR_DIR": str(var_dir),
            "INTAKE_S3_ENDPOINT_URL": endpoint_url,
            "INTAKE_S3_BUCKET": BUCKET,
            "INTAKE_S3_CREATE_BUCKET": "true",
            "INTAKE_S3_FAST_SIGNING": "true" if fast_signing else "false",
            "INTAKE_MAX_UPLOAD_BYTES": str(5 * 1024**3),
            # Completing a 1 GiB multipart upload takes the emulator several seconds.
            "INTAKE_S3_READ_TIMEOUT": "120",
            # The upload path's benchmarks run without a scanner (files "not scanned");
            # bench/scan.py measures scanning.
            "INTAKE_SCANNER": os.environ.get("INTAKE_SCANNER", "none"),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args[:1])} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


_PREPARE = """
import os
from django.contrib.auth import get_user_model
from django.db import connection
from uploader.models import Upload
with connection.cursor() as cursor:
    cursor.execute("TRUNCATE " + connection.ops.quote_name(Upload._meta.db_table) + " CASCADE")
user, _ = get_user_model().objects.get_or_create(username=os.environ["BENCH_USERNAME"])
user.is_staff = True
user.is_active = True
user.set_password(os.environ["BENCH_PASSWORD"])
user.save()
"""


def prepare_app(env: dict[str, str]) -> str:
    """Migrate, configure the bucket, empty the uploads table, (re)set the staff user.

    Returns the staff user's fresh random password.
    """
    password = secrets.token_urlsafe(16)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "setup_bucket", "--create", "--origin", "http://127.0.0.1:1")
    manage({**env, "BENCH_USERNAME": USERNAME, "BENCH_PASSWORD": password}, "shell", "-c", _PREPARE)
    return password


# --- gunicorn ---------------------------------------------------------------------------------------


class Gunicorn:
    """`gunicorn config.wsgi` on a free port: sync workers with one thread each, or
    gthread workers when `threads` > 1."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int,
        log_path: Path,
        name: str,
        app: str = "config.wsgi",
        threads: int = 1,
    ) -> None:
        self.env = env
        self.app = app
        self.workers = workers
        self.threads = threads
        self.log_path = log_path
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    str(VENV_BIN / "gunicorn"),
                    self.app,
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "-w",
                    str(self.workers),
                    "--threads",
                    str(self.threads),
                    "--worker-class",
                    "gthread" if self.threads > 1 else "sync",
                    "--timeout",
                    "120",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn {self.name} exited at start (code {self.process.returncode}); see {self.log_path}"
                )
            try:
                if requests.get(f"{self.base_url}/healthz/live", timeout=2).status_code == 200 and (
                    len(self.worker_pids()) == self.workers
                ):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn {self.name} did not answer on {self.base_url} within {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(child) for child in children]

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far by the workers."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids())

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@dataclass
class Stack:
    """The emulator plus any number of gunicorns; `close` stops them all."""

    var_dir: Path
    emulator: S3Emulator | None = None
    servers: list[Gunicorn] = field(default_factory=list)
    password: str = ""

    def start_emulator(self) -> S3Emulator:
        self.emulator = S3Emulator(log_path=self.var_dir / "emulator.log").start()
        return self.emulator

    def env(self, *, fast_signing: bool = True) -> dict[str, str]:
        assert self.emulator is not None
        return app_env(endpoint_url=self.emulator.endpoint_url, var_dir=self.var_dir, fast_signing=fast_signing)

    def start_gunicorn(
        self,
        name: str,
        *,
        workers: int,
        threads: int = 1,
        fast_signing: bool = True,
        app: str = "config.wsgi",
        extra_env: dict[str, str] | None = None,
    ) -> Gunicorn:
        env = {**self.env(fast_signing=fast_signing), **(extra_env or {})}
        server = Gunicorn(
            env, workers=workers, threads=threads, log_path=self.var_dir / f"gunicorn-{name}.log", name=name, app=app
        )
        self.servers.append(server)
        return server.start()

    def stop_gunicorn(self, server: Gunicorn) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def close(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        if self.emulator:
            self.emulator.stop()
            self.emulator = None


# --- Signing in ----------------------------------------------------------------------------------------


def login(base_url: str, password: str) -> requests.Session:
    """Sign in through the login form, as a browser does: the session then holds the
    `sessionid` and `csrftoken` cookies; POSTs add the token as X-CSRFToken."""
    return login_as(base_url, USERNAME, password)


def login_as(base_url: str, username: str, password: str) -> requests.Session:
    """`login` as any user."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=10)
    page.raise_for_status()
    token = session.cookies.get("csrftoken")
    if not token:
        raise RuntimeError("the login page set no csrftoken cookie")
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=10,
    )
    answer.raise_for_status()
    if "sessionid" not in session.cookies:
        raise RuntimeError("signing in failed (no sessionid cookie)")
    session.headers["X-CSRFToken"] = str(session.cookies["csrftoken"])
    return session


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{name}={session.cookies[name]}" for name in ("csrftoken", "sessionid"))


def session_headers(session: requests.Session) -> dict[str, str]:
    """What the app's own pages send with every contract call, GETs included: the
    session cookie and the CSRF token (ADR 0004)."""
    return {"Cookie": cookie_header(session), "X-CSRFToken": str(session.cookies["csrftoken"])}


# --- wrk -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    bad_responses: int  # non-2xx/3xx answers
    socket_errors: int

    @property
    def clean(self) -> bool:
        return self.bad_responses == 0 and self.socket_errors == 0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not rps or not total:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    percentiles = {m.group(1): _duration_ms(m.group(2)) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)", output, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        requests=int(total.group(1)),
        p50_ms=percentiles.get("50"),
        p99_ms=percentiles.get("99"),
        bad_responses=int(bad.group(1)) if bad else 0,
        # Read errors are not counted: wrk reports them when gunicorn's sync workers
        # close a connection after answering, which they always do.
        socket_errors=sum(int(errors.group(i)) for i in (1, 3, 4)) if errors else 0,
    )


def run_wrk(
    url: str, *, connections: int, threads: int, duration: float, headers: dict[str, str], latency: bool = False
) -> WrkResult:
    command = ["wrk", "-c", str(connections), "-t", str(threads), "-d", f"{duration:g}s", "--timeout", "10s"]
    if latency:
        command.append("--latency")
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=duration + 60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return parse_wrk(result.stdout)


# --- Process memory --------------------------------------------------------------------------------------


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting for I/O) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / _CLOCK_TICKS


def support_cpu_seconds() -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends serving the benchmark database and of
    redis-server, by pid: the work a request causes outside the web process."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if (command.startswith(b"postgres:") and BENCH_DATABASE.encode() in command) or command.startswith(
            b"redis-server"
        ):
            found[int(entry.name)] = process_cpu_seconds(int(entry.name))
    return found


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
