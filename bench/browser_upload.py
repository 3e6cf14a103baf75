"""Benchmark 6: Chromium uploads a file through the staff page, against boto3's upload_file.

A user's upload, measured as the user sees it: headless Chromium signs in as a staff
user, opens the upload page (served by gunicorn on 127.0.0.1, so the page may call
S3 on 127.0.0.1), picks the file and clicks Upload. The clock runs from the click
until the page announces "1 uploaded" and the list under the uploader shows the
file as stored. Everything the page does is in it: the MD5 of every part
(hash-wasm), one signing call per part, the parallel PUTs straight to S3, the
complete call and the list's refresh.

The reference, in the same run and to the same bucket on the same endpoint, is
boto3's `upload_file` with its default TransferConfig (8 MiB parts, 10 threads, no
MD5), from a client configured like the app's (checksums only when required). The
runs alternate (browser, boto3, boto3, browser, ...); the ratio is of the medians.

Endpoints: the S3 emulator (moto_server) and a Ceph RADOS Gateway (scripts/radosgw.sh,
one memstore OSD; every stored byte is held in RAM, so it is sized for the run).

    .venv/bin/python bench/browser_upload.py                       # 1 GiB, both endpoints
    .venv/bin/python bench/browser_upload.py --size 128M --endpoint emulator
    .venv/bin/python bench/browser_upload.py --variant new=/tmp/upload.js   # A/B a page script
    .venv/bin/python bench/browser_upload.py --link-mbit 400      # uploads through a 400 Mbit/s link

`--link-mbit` gives the bytes sent to the S3 server a link of that speed (an HTB class
on the loopback interface for the server's port; everything else on loopback stays
unlimited; needs root and tc), as a user's uplink limits their upload. Without it the
uploads share this machine's two cores with the S3 server, and the ratio measures
Chromium's CPU per byte against boto3's (docs/adr/0013-hardening-goals-restated.md).

Needs PostgreSQL and Redis as bench/run_all.py does, and Chromium at /usr/bin/chromium.
Everything it starts is stopped at the end, after an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, transfer
from bench.endpoints import Endpoint, ceph, emulator
from bench.harness import Gunicorn, step
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

MIB = 1024**2
GIB = 1024**3
GOAL = 0.9
PAGE_SCRIPT = "/static/intake/upload.js"
# boto3's own TransferConfig defaults; printed with the results.
BOTO3_DEFAULTS = "TransferConfig() defaults: multipart_threshold 8 MiB, multipart_chunksize 8 MiB, max_concurrency 10"


def parse_size(text: str) -> int:
    """'1G', '256M', '512MiB' or a number of bytes."""
    units = {"k": 1024, "m": MIB, "g": GIB}
    cleaned = text.strip().lower().removesuffix("ib").removesuffix("b")
    if cleaned and cleaned[-1] in units:
        return int(float(cleaned[:-1]) * units[cleaned[-1]])
    return int(cleaned)


def write_random_file(path: Path, size: int) -> None:
    """Incompressible bytes, written in 8 MiB pieces: never all in memory."""
    with open(path, "wb") as out:
        remaining = size
        while remaining > 0:
            piece = min(8 * MIB, remaining)
            out.write(os.urandom(piece))
            remaining -= piece


# --- CPU accounting: where the time goes ------------------------------------------------------------------


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _command(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _chromium_pids(kind: str | None) -> list[int]:
    """Chromium's processes under this one: its renderers (`kind` "renderer": the page, Uppy,
    the hashing) or all the others (`None`: browser process, network service, GPU, zygotes)."""
    found = []
    for pid in _descendants(os.getpid(), _children_by_parent()):
        # Chromium rewrites its processes' titles: one string, arguments split by spaces.
        command = " ".join(_command(pid))
        if "chrom" not in Path(command.split(" ", 1)[0]).name:
            continue
        renderer = "--type=renderer" in command
        if renderer == (kind == "renderer"):
            found.append(pid)
    return found


@dataclass
class CpuMeter:
    """CPU seconds of the processes taking part, by group, between `start` and `stop`."""

    groups: dict[str, Callable[[], list[int]]]
    before: dict[str, dict[int, float]] = field(default_factory=dict)
    busy_before: float = 0.0
    self_before: float = 0.0
    started: float = 0.0

    @staticmethod
    def _self_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: harness.process_cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self.before = self._sample()
        self.busy_before = harness.machine_busy_seconds()
        self.self_before = self._self_cpu()
        self.started = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Cores used by each group on average, the benchmark process itself and the rest of the machine."""
        after = self._sample()
        elapsed = time.monotonic() - self.started
        used = {
            name: sum(cpu - self.before[name].get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in after.items()
        }
        used["this process"] = self._self_cpu() - self.self_before
        other = harness.machine_busy_seconds() - self.busy_before - sum(used.values())
        used["other load"] = max(other, 0.0)
        return {name: round(seconds / elapsed, 2) for name, seconds in used.items()}


# --- The link ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def shaped_link(port: int, mbit: int | None) -> Iterator[None]:
    """Traffic to `port` on the loopback interface at most `mbit` Mbit/s while inside:
    an HTB qdisc whose default class is unlimited, and one class at `mbit` that a u32
    filter fills with what is sent to the port. Removed on the way out, whatever
    happened; refuses to start if the interface already has a qdisc of its own."""
    if not mbit:
        yield
        return
    shown = subprocess.run(["tc", "qdisc", "show", "dev", "lo"], capture_output=True, text=True, check=True).stdout
    if not shown.startswith("qdisc noqueue"):
        raise RuntimeError(f"the loopback interface already has a qdisc, left as it is: {shown.strip()}")
    commands = [
        "qdisc add dev lo root handle 1: htb default 20",
        # lo's MTU is 64 KiB: each class must be able to send a whole packet per round.
        f"class add dev lo parent 1: classid 1:10 htb rate {mbit}mbit ceil {mbit}mbit quantum 65536",
        "class add dev lo parent 1: classid 1:20 htb rate 100gbit quantum 65536",
        f"filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport {port} 0xffff flowid 1:10",
    ]
    try:
        for command in commands:
            subprocess.run(["tc", *command.split()], capture_output=True, text=True, check=True)
        step(f"  uploads to port {port} go through a {mbit} Mbit/s link ({mbit * 1e6 / 8 / MIB:.1f} MiB/s)")
        yield
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True, check=False)


# --- One upload of each kind ---------------------------------------------------------------------------------------


@dataclass
class Upload:
    kind: str  # "browser", "browser:<variant>" or "boto3"
    seconds: float
    size: int
    cores: dict[str, float]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def mib_per_second(self) -> float:
        return self.size / MIB / self.seconds


_DONE = """(name) => {
  const said = document.getElementById('upload-announcer').textContent;
  if (said.includes('failed') && !said.startsWith('1 uploaded')) return said;
  if (!said.startsWith('1 uploaded')) return false;
  const rows = [...document.querySelectorAll('#recent-uploads tr[data-state=stored]')];
  return rows.some((row) => row.textContent.includes(name)) ? said : false;
}"""


def _puts_in_flight(timings: list[tuple[float, float]], wall_ms: float) -> float:
    """Mean number of PUTs to S3 open at once over the upload (sum of their durations / wall time)."""
    return sum(end - begin for begin, end in timings) / wall_ms if wall_ms else 0.0


def browser_upload(
    browser: Any,
    base_url: str,
    s3_url: str,
    password: str,
    path: Path,
    *,
    name: str,
    script: Path | None,
    meter: CpuMeter,
    timeout_s: float,
    profile: Path | None = None,
) -> Upload:
    """Sign in, open the page, pick the file, click Upload; timed from the click until the
    page says it is done and lists the file as stored."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        if script is not None:
            page.route(
                f"**{PAGE_SCRIPT}", lambda route: route.fulfill(path=str(script), content_type="text/javascript")
            )
        page.goto(f"{base_url}/accounts/login/?next=/")
        page.get_by_label("User name").fill(harness.USERNAME)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base_url}/")
        # Only the page load is routed: while a route is set, Playwright intercepts every request.
        page.unroute_all()
        puts: list[Any] = []
        page.on("request", lambda r: puts.append(r) if r.method == "PUT" and r.url.startswith(s3_url) else None)
        # A name of its own per upload (a symlink: Chromium reads the file, Python never does).
        named = path.parent / name
        named.unlink(missing_ok=True)
        named.symlink_to(path)
        page.locator(".uppy-Dashboard-input").first.set_input_files(str(named))
        page.locator(".uppy-StatusBar-actionBtn--upload").wait_for()
        clicked_ms = float(page.evaluate("Date.now()"))  # the clock of request.timing's startTime
        profiler = _start_profiler(context, page) if profile else None
        meter.start()
        started = time.perf_counter()
        page.locator(".uppy-StatusBar-actionBtn--upload").click()
        said = page.wait_for_function(_DONE, arg=name, polling=50, timeout=timeout_s * 1000).json_value()
        seconds = time.perf_counter() - started
        cores = meter.stop()
        if profiler is not None and profile is not None:
            _save_profile(profiler, profile)
        if not str(said).startswith("1 uploaded"):
            raise RuntimeError(f"the page said: {said}")
        first = min((r.timing["startTime"] for r in puts), default=0.0)
        spans = [(r.timing["startTime"], r.timing["startTime"] + r.timing["responseEnd"]) for r in puts]
        detail = {
            "puts": len(puts),
            "part_bytes": _part_size(puts),
            "md5_on_every_put": all(r.headers.get("content-md5") for r in puts),
            "puts_in_flight": round(_puts_in_flight(spans, seconds * 1000), 2),
            "first_put_after_s": round((first - clicked_ms) / 1000, 2) if puts else None,
        }
        named.unlink(missing_ok=True)
        return Upload("browser", seconds, path.stat().st_size, cores, detail)
    finally:
        context.close()


def _start_profiler(context: Any, page: Any) -> Any:
    session = context.new_cdp_session(page)
    session.send("Profiler.enable")
    session.send("Profiler.setSamplingInterval", {"interval": 1000})
    session.send("Profiler.start")
    return session


def _save_profile(session: Any, path: Path) -> None:
    """The page's main-thread JavaScript profile (open in Chrome's DevTools), and its top
    functions by self time."""
    profile = session.send("Profiler.stop")["profile"]
    path.write_text(json.dumps(profile))
    interval = {n["id"]: 0 for n in profile["nodes"]}
    for sample in profile.get("samples", []):
        interval[sample] = interval.get(sample, 0) + 1
    by_function: dict[str, int] = {}
    for node in profile["nodes"]:
        frame = node["callFrame"]
        where = f"{frame['functionName'] or '(anonymous)'} {Path(frame['url']).name}:{frame['lineNumber'] + 1}"
        by_function[where] = by_function.get(where, 0) + interval.get(node["id"], 0)
    total = sum(by_function.values()) or 1
    top = sorted(by_function.items(), key=lambda item: -item[1])[:15]
    step(f"  profile written to {path}; top self time of {total} samples:")
    for where, count in top:
        step(f"    {100 * count / total:5.1f}%  {where}")


def _part_size(puts: list[Any]) -> int | None:
    """The first part's length, as Chromium sent it."""
    for request in puts:
        if "partNumber=1&" in request.url or request.url.endswith("partNumber=1"):
            return int(request.header_value("content-length") or 0) or None
    return None


def boto3_upload(client: Any, bucket: str, path: Path, key: str, meter: CpuMeter) -> Upload:
    size = path.stat().st_size
    meter.start()
    started = time.perf_counter()
    client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": "application/octet-stream"})
    seconds = time.perf_counter() - started
    cores = meter.stop()
    stored = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    if stored != size:
        raise RuntimeError(f"boto3 stored {stored} bytes, not {size}")
    return Upload("boto3", seconds, size, cores)


# --- One endpoint: app, page, alternating uploads ---------------------------------------------------------


@dataclass
class EndpointResult:
    endpoint: str
    uploads: list[Upload]
    browser_settings: str
    boto3_settings: str = BOTO3_DEFAULTS

    def medians(self) -> dict[str, float]:
        kinds = sorted({u.kind for u in self.uploads})
        return {k: statistics.median([u.mib_per_second for u in self.uploads if u.kind == k]) for k in kinds}


def bench_endpoint(
    endpoint: Endpoint,
    browser: Any,
    path: Path,
    var_dir: Path,
    *,
    rounds: int,
    variants: dict[str, Path | None],
    workers: int,
    profile_dir: Path | None = None,
    link_mbit: int | None = None,
) -> EndpointResult:
    env = harness.app_env(endpoint_url=endpoint.url, var_dir=var_dir)
    env.update(
        {
            "INTAKE_S3_BUCKET": f"{harness.BUCKET}-{endpoint.name}",
            "AWS_ACCESS_KEY_ID": endpoint.access_key,
            "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
        }
    )
    server = Gunicorn(env, workers=workers, log_path=var_dir / f"gunicorn-{endpoint.name}.log", name=endpoint.name)
    password = harness.prepare_app(env)
    # CORS for the page's own origin, which exists only now that its port is chosen.
    harness.manage(env, "setup_bucket", "--origin", server.base_url)
    client = transfer.s3_client(endpoint.url, endpoint.access_key, endpoint.secret_key)
    bucket = env["INTAKE_S3_BUCKET"]
    uploads: list[Upload] = []
    try:
        server.start()
        step(f"{endpoint.name}: S3 at {endpoint.url}, gunicorn -w {workers} serving the page at {server.base_url}")
        meter = CpuMeter(
            {
                "chromium renderer": lambda: _chromium_pids("renderer"),
                "chromium other": lambda: _chromium_pids(None),
                "s3 server": endpoint.pids,
                "gunicorn": lambda: server.worker_pids() + ([server.process.pid] if server.process else []),
                "postgres+redis": lambda: list(harness.support_cpu_seconds()),
            }
        )
        browser_kinds = [f"browser:{name}" if name else "browser" for name in variants]
        port = int(endpoint.url.rsplit(":", 1)[1].split("/")[0])
        with shaped_link(port, link_mbit):
            _rounds(
                endpoint,
                browser,
                path,
                client,
                bucket,
                server,
                password,
                meter,
                uploads,
                rounds=rounds,
                browser_kinds=browser_kinds,
                variants=variants,
                profile_dir=profile_dir,
            )
    finally:
        server.stop()
    parts = {u.detail.get("part_bytes") for u in uploads if u.detail}
    browser_settings = "the page's upload.js: parts of " + ", ".join(
        f"{p / MIB:g} MiB" for p in sorted(p for p in parts if p)
    )
    if link_mbit:
        browser_settings += f"; through a {link_mbit} Mbit/s link"
    return EndpointResult(endpoint.name, uploads, browser_settings)


def _rounds(
    endpoint: Endpoint,
    browser: Any,
    path: Path,
    client: Any,
    bucket: str,
    server: Gunicorn,
    password: str,
    meter: CpuMeter,
    uploads: list[Upload],
    *,
    rounds: int,
    browser_kinds: list[str],
    variants: dict[str, Path | None],
    profile_dir: Path | None,
) -> None:
    """Alternating uploads (browser kinds, boto3; then the other way round), each timed."""
    kinds = [*browser_kinds, "boto3"]
    for number in range(rounds):
        for kind in kinds if number % 2 == 0 else kinds[::-1]:
            if kind == "boto3":
                upload = boto3_upload(client, bucket, path, f"bench/boto3-{number}.bin", meter)
                client.delete_object(Bucket=bucket, Key=f"bench/boto3-{number}.bin")
                endpoint.reclaim()
            else:
                variant = kind.partition(":")[2]
                upload = browser_upload(
                    browser,
                    server.base_url,
                    endpoint.url,
                    password,
                    path,
                    name=f"browser-{variant or 'page'}-{number}.bin",
                    script=variants[variant],
                    meter=meter,
                    timeout_s=120 + path.stat().st_size / MIB / 2,  # at least 2 MiB/s
                    profile=profile_dir / f"{endpoint.name}-{kind}-{number}.cpuprofile" if profile_dir else None,
                )
                upload.kind = kind
                _delete_stored(client, bucket)
                endpoint.reclaim()
            uploads.append(upload)
            extra = " ".join(f"{k}={v}" for k, v in upload.detail.items())
            step(
                f"  {endpoint.name} round {number + 1}/{rounds} {kind:<16} {upload.seconds:7.2f} s "
                f"{upload.mib_per_second:7.1f} MiB/s  cores {upload.cores}  {extra}"
            )


def _delete_stored(client: Any, bucket: str) -> None:
    """Keep the S3 server's memory flat: the page's objects go once timed."""
    listed = client.list_objects_v2(Bucket=bucket, Prefix="uploads/")
    for item in listed.get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])


# --- Running it --------------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def report(results: list[EndpointResult]) -> list[dict[str, Any]]:
    rows = []
    print()
    for result in results:
        medians = result.medians()
        reference = medians["boto3"]
        print(f"{result.endpoint}:")
        print(f"  browser: {result.browser_settings}")
        print(f"  boto3:   {result.boto3_settings}")
        for kind, value in medians.items():
            if kind == "boto3":
                continue
            ratio = value / reference
            holds = "holds" if ratio >= GOAL else "MISSED"
            print(
                f"  {kind:<18} {value:7.1f} MiB/s  boto3 {reference:7.1f} MiB/s  ratio {ratio:.2f}x  "
                f"(goal >= {GOAL}x: {holds})"
            )
            rows.append(
                {"endpoint": result.endpoint, "kind": kind, "mib_s": value, "boto3_mib_s": reference, "ratio": ratio}
            )
    print(flush=True)
    return rows


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C while the benchmark runs, so every `finally`
    stops what it started (the Ceph daemons detach and would outlive us otherwise)."""
    previous = {number: signal.signal(number, _raise_interrupt) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def bench_browser(
    *,
    size: int,
    endpoints: list[str],
    rounds: int,
    workers: int = 2,
    variants: dict[str, Path | None] | None = None,
    work_dir: str | None = None,
    profile_dir: Path | None = None,
    link_mbit: int | None = None,
) -> list[EndpointResult]:
    """The whole benchmark: one file, then for each endpoint its S3 server, gunicorn and the
    alternating uploads; everything stopped before it returns or raises."""
    from playwright.sync_api import sync_playwright

    variants = variants or {"": None}
    results: list[EndpointResult] = []
    with _signals_unwind(), tempfile.TemporaryDirectory(prefix="intake-bench-browser-", dir=work_dir) as tmp:
        var_dir = Path(tmp)
        path = var_dir / "upload.bin"
        step(f"writing {size / MIB:g} MiB of random bytes to {path}")
        write_random_file(path, size)
        step(f"preparing PostgreSQL database {harness.BENCH_DATABASE} (Redis {harness.REDIS_URL})")
        harness.ensure_database()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for name in endpoints:
                    step(f"starting {name}")
                    # Ceph's OSD keeps every byte in RAM; each object is deleted and its space
                    # reclaimed once timed, so room for two copies of the file is enough.
                    context = emulator(var_dir) if name == "emulator" else ceph(memstore_bytes=2 * size + GIB)
                    with context as endpoint:
                        results.append(
                            bench_endpoint(
                                endpoint,
                                browser,
                                path,
                                var_dir,
                                rounds=rounds,
                                variants=variants,
                                workers=workers,
                                profile_dir=profile_dir,
                                link_mbit=link_mbit,
                            )
                        )
            finally:
                with contextlib.suppress(Exception):
                    browser.close()
    return results


def run(args: argparse.Namespace) -> int:
    variants: dict[str, Path | None] = {"": None}
    for text in args.variant:
        name, _, script = text.partition("=")
        if not name or not Path(script).is_file():
            raise SystemExit(f"--variant NAME=PATH to an upload.js: {text!r}")
        variants[name] = Path(script)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = bench_browser(
        size=args.size,
        endpoints=["emulator", "ceph"] if args.endpoint == "both" else [args.endpoint],
        rounds=args.rounds,
        workers=args.workers,
        variants=variants,
        work_dir=args.work_dir,
        profile_dir=args.profile,
        link_mbit=args.link_mbit,
    )
    rows = report(results)
    if args.json:
        document = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "size": args.size,
            "link_mbit": args.link_mbit,
            "rows": rows,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(document, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=GIB, help="file size, e.g. 1G, 256M (default 1G)")
    parser.add_argument("--endpoint", choices=["emulator", "ceph", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=2, help="uploads of each kind per endpoint (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers serving the page (default 2)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also upload with this upload.js in place of the page's own (served through a route), interleaved",
    )
    parser.add_argument(
        "--link-mbit",
        type=int,
        default=None,
        metavar="N",
        help="send the uploads to S3 through a link of N Mbit/s (tc on the loopback interface; needs root)",
    )
    parser.add_argument("--work-dir", default=None, help="where the file is written (default: the temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="write every measurement to this file")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="save a CPU profile of the page per browser upload"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        step("interrupted; everything started was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
