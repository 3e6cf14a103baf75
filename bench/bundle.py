"""Benchmark 9: "Download all" as one zip, through the worker's path, against copying the
same objects with boto3, on the S3 emulator (moto) and on a Ceph RADOS Gateway.

    BENCH_DATABASE=<db> BENCH_REDIS_URL=redis://127.0.0.1:6379/<n> .venv/bin/python bench/bundle.py
        [--files 200] [--total-mib 2048] [--endpoint emulator|ceph|both] [--rounds 1]
        [--variant 'NAME:INTAKE_BUNDLE_X=N,...'] [--profile] [--json PATH]

Issue 16's goal: the zip of a 2 GiB request (200 files) made with the worker's memory
growing by less than 100 MB, at >= 0.8 x the throughput of copying the same objects
with boto3. Each endpoint is measured in a process of its own (started by this one) that
starts the S3 server itself (scripts/emulator.py, or scripts/radosgw.sh through
tests/support/radosgw.py as the strict-S3 tests do) and stops it at the end. It puts the
objects with stored rows of one portal, then, per round, times in turn:

(a) boto3's managed copy (`client.copy`): server-side CopyObject / UploadPartCopy, no
    byte passes through this process;
(b) a streamed copy (`get_object` -> `upload_fileobj`, boto3's transfer manager): every
    byte read into this process and written back, as the zip's must be;
(c) the zip as the worker makes it (`uploader.bundles.build.bundle_build`), sampling
    this process's RSS every 20 ms and reading its kernel-kept peak (VmHWM, reset first).

`--variant` also makes the zip with other INTAKE_BUNDLE_* settings in the same rounds;
rounds alternate their order (A B C, then C B A), so a load that rises or falls through
the run weighs on each phase alike. Copies and zips are deleted (and Ceph's garbage
collected) after each phase, so the servers hold the sources plus one copy. Printed:
each throughput, the ratios zip/managed and zip/streamed, the memory growth, CPU seconds
of this process and of the S3 server per phase, and the load average. Exit status 1 if
the defaults miss a goal (memory, or the ratio to the streamed copy).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.endpoints import Endpoint, ceph, emulator  # noqa: E402
from bench.harness import step  # noqa: E402

MIB = 1024**2
GIB = 1024**3
MEMORY_GOAL_MB = 100
RATIO_GOAL = 0.8


# --- Memory of this process ---------------------------------------------------------------------------


def _status_bytes(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) * 1024
    return 0


def _settle_memory() -> None:
    """Give back what earlier phases freed, so the baseline is what is live: glibc keeps freed
    memory in its arenas (boto3's transfer threads leave 8 MiB buffers there), and a build
    reusing it would look free. Then reset the kernel's peak (VmHWM) to the current RSS."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@contextlib.contextmanager
def rss_watch(every: float = 0.02) -> Iterator[dict[str, int]]:
    """Baseline, sampled peak and kernel peak of this process's RSS while inside."""
    _settle_memory()
    seen = {"before": _status_bytes("VmRSS")}
    seen["sampled_peak"] = seen["before"]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen["sampled_peak"] = max(seen["sampled_peak"], _status_bytes("VmRSS"))
            time.sleep(every)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()
        seen["kernel_peak"] = _status_bytes("VmHWM")


# --- CPU per phase ------------------------------------------------------------------------------------


@dataclass
class Phase:
    seconds: float
    self_cpu: float  # this process (all its threads)
    server_cpu: float  # the S3 server's processes
    other_cpu: float  # the rest of the machine (other helpers' work)
    load: float  # one-minute load average at the end

    @property
    def cores(self) -> str:
        return f"cores: this {self.self_cpu / self.seconds:.2f}, S3 server {self.server_cpu / self.seconds:.2f}, rest of the machine {self.other_cpu / self.seconds:.2f}"


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(endpoint: Endpoint, action: Callable[[], object]) -> Phase:
    def server() -> float:
        return sum(harness.process_cpu_seconds(pid) for pid in endpoint.pids())

    server_before, self_before, busy_before = server(), _self_cpu(), harness.machine_busy_seconds()
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    self_used, server_used = _self_cpu() - self_before, server() - server_before
    other = max(harness.machine_busy_seconds() - busy_before - self_used - server_used, 0.0)
    return Phase(seconds, self_used, server_used, other, os.getloadavg()[0])


# --- One endpoint, in this process --------------------------------------------------------------------


@dataclass
class ZipRun:
    phase: Phase
    completing_seconds: float  # the last part and the complete call
    rss_before: int
    rss_sampled_peak: int
    rss_kernel_peak: int

    @property
    def growth_mb(self) -> float:
        return (max(self.rss_sampled_peak, self.rss_kernel_peak) - self.rss_before) / 1e6


@dataclass
class Round:
    managed: Phase
    streamed: Phase
    zips: dict[str, ZipRun]  # by variant


@dataclass
class EndpointResult:
    endpoint: str
    files: int
    total_bytes: int
    zip_bytes: int
    build_settings: dict[str, Any]
    variants: dict[str, dict[str, int]]  # name: the INTAKE_BUNDLE_* settings it changes
    rounds: list[Round] = field(default_factory=list)
    load_at_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    started_at: str = ""

    def mib_s(self, seconds: float) -> float:
        return self.total_bytes / MIB / seconds

    def median(self, pick: Callable[[Round], float]) -> float:
        return statistics.median(pick(r) for r in self.rounds)

    def ratio(self, variant: str, baseline: str) -> float:
        """Median over rounds of the zip's throughput over the copy's, both from the same round."""
        return self.median(lambda r: getattr(r, baseline).seconds / r.zips[variant].phase.seconds)

    def growth_mb(self, variant: str) -> float:
        return max(r.zips[variant].growth_mb for r in self.rounds)


def _delete_all(client: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def _build_zip(bundle_build: Callable[[Any], Any], bundle_id: Any, into: list[Any], profile: bool) -> None:
    if not profile:
        into.append(bundle_build(bundle_id))
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    into.append(profiler.runcall(bundle_build, bundle_id))
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def bench_endpoint(
    endpoint: Endpoint,
    var_dir: Path,
    *,
    files: int,
    total: int,
    rounds: int,
    variants: dict[str, dict[str, int]],
    profile: bool,
) -> EndpointResult:
    each = total // files
    env = harness.app_env(endpoint_url=endpoint.url, var_dir=var_dir)
    env.update(
        {
            "INTAKE_S3_BUCKET": f"{harness.BUCKET}-{endpoint.name}",
            "AWS_ACCESS_KEY_ID": endpoint.access_key,
            "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
            # The emulator joins a 2 GiB zip's parts in memory when it is completed.
            "INTAKE_S3_READ_TIMEOUT": "600",
        }
    )
    step(f"{endpoint.name}: S3 at {endpoint.url}; preparing PostgreSQL database {harness.BENCH_DATABASE}")
    harness.ensure_database()
    harness.prepare_app(env)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import override_settings
    from django.utils import timezone

    from uploader import s3
    from uploader.access.accounts import user_set_role
    from uploader.access.principals import signed_in_principal
    from uploader.access.roles import Role
    from uploader.bundles import build, services
    from uploader.bundles.models import Bundle
    from uploader.portals.services import portal_create
    from uploader.uploads.models import ScanState, Upload, UploadState

    user = get_user_model().objects.get(username=harness.USERNAME)
    user_set_role(user=user, role=Role.ADMIN, source="bench")
    client = s3.boto3_client()
    bucket = settings.INTAKE_S3_BUCKET
    result = EndpointResult(
        endpoint=endpoint.name,
        files=files,
        total_bytes=each * files,
        zip_bytes=0,
        build_settings={name: getattr(settings, name) for name in dir(settings) if name.startswith("INTAKE_BUNDLE_")},
        variants=variants,
        load_at_start=os.getloadavg(),
        started_at=time.strftime("%Y-%m-%d %H:%M:%S %z"),
    )

    step(f"{endpoint.name}: putting {files} objects of {each / MIB:.2f} MiB ({each * files / MIB:.0f} MiB)")
    portal = portal_create(actor=None, name=f"Bench {uuid.uuid4().hex[:6]}")
    body = os.urandom(each)
    keys = []
    for number in range(files):
        key = f"{settings.INTAKE_S3_KEY_PREFIX}/bench/bundle-{number:03d}.bin"
        etag = s3.put_object_bytes(key=key, body=body).etag
        Upload.objects.create(
            owner=user, original_filename=f"file {number:03d}.bin", key=key, declared_size=each,
            declared_content_type="application/octet-stream", state=UploadState.STORED,
            stored_size=each, etag=etag, scan_state=ScanState.NOT_SCANNED,
            stored_at=timezone.now(), portal=portal,
        )  # fmt: skip
        keys.append(key)
    del body

    def managed_copy() -> None:
        for key in keys:
            client.copy({"Bucket": bucket, "Key": key}, bucket, f"copy/{key}")

    def streamed_copy() -> None:
        for key in keys:
            source = client.get_object(Bucket=bucket, Key=key)["Body"]
            client.upload_fileobj(source, bucket, f"through/{key}")

    def copy_phase(name: str) -> Phase:
        prefix, action = ("copy", managed_copy) if name == "managed" else ("through", streamed_copy)
        phase = timed(endpoint, action)
        _delete_all(client, bucket, [f"{prefix}/{key}" for key in keys])
        endpoint.reclaim()
        return phase

    # How long the last part and the complete call take (the emulator joins every part into
    # one object there; S3 and Ceph do not copy).
    completing = [0.0]
    close = s3.MultipartWriter.close

    def timed_close(self: s3.MultipartWriter) -> None:
        began = time.monotonic()
        close(self)
        completing[0] += time.monotonic() - began

    s3.MultipartWriter.close = timed_close  # type: ignore[method-assign]

    def zip_phase(variant: str) -> ZipRun:
        bundle = services.bundle_for_portal(principal=signed_in_principal(user), portal=portal)
        completing[0] = 0.0
        built: list[Any] = []
        with override_settings(**variants[variant]), rss_watch() as memory:
            phase = timed(endpoint, functools.partial(_build_zip, build.bundle_build, bundle.pk, built, profile))
        made = built[0]
        if made is None or made.state != "ready":
            raise SystemExit(f"the zip was not made: {made and made.error}")
        if made.files_done != files or made.bytes_done != each * files:
            raise SystemExit(f"the zip holds {made.files_done} files, {made.bytes_done} bytes")
        result.zip_bytes = s3.head_object(key=made.key).size
        s3.delete_object(key=made.key)
        endpoint.reclaim()
        # A new bundle for the next zip: asking for the same files would show this one.
        Bundle.objects.filter(pk=made.pk).delete()
        return ZipRun(phase, completing[0], memory["before"], memory["sampled_peak"], memory["kernel_peak"])

    labels = {"managed": "boto3 managed copy (server-side)", "streamed": "boto3 streamed copy (get -> upload_fileobj)"}
    for number in range(1, rounds + 1):
        # A, B, C then C, B, A: a load that rises or falls through the run weighs on each alike.
        order = ["managed", "streamed", *(f"zip:{v}" for v in variants)]
        if number % 2 == 0:
            order.reverse()
        phases: dict[str, Phase] = {}
        zips: dict[str, ZipRun] = {}
        for name in order:
            if name.startswith("zip:"):
                variant = name.removeprefix("zip:")
                step(f"{endpoint.name} round {number}: the zip as the worker makes it ({variant})")
                zips[variant] = zip_phase(variant)
            else:
                step(f"{endpoint.name} round {number}: {labels[name]}")
                phases[name] = copy_phase(name)
        result.rounds.append(Round(phases["managed"], phases["streamed"], zips))
        print_round(result, result.rounds[-1], number)
    return result


# --- Reporting ----------------------------------------------------------------------------------------


def print_round(result: EndpointResult, run: Round, number: int) -> None:
    print(f"--- {result.endpoint}, round {number}: {result.files} files, {result.total_bytes / MIB:.0f} MiB")
    for name, phase in (
        ("boto3 managed copy (server-side)", run.managed),
        ("boto3 streamed copy (get_object -> upload_fileobj)", run.streamed),
    ):
        print(f"  {name}: {phase.seconds:.2f} s, {result.mib_s(phase.seconds):.1f} MiB/s; {phase.cores}")
    for variant, made in run.zips.items():
        phase = made.phase
        print(
            f"  zip ({variant}): {phase.seconds:.2f} s, {result.mib_s(phase.seconds):.1f} MiB/s; {phase.cores}\n"
            f"    of which the last part and the complete call: {made.completing_seconds:.2f} s\n"
            f"    ratios: zip/managed copy {run.managed.seconds / phase.seconds:.2f}, "
            f"zip/streamed copy {run.streamed.seconds / phase.seconds:.2f} (goal >= {RATIO_GOAL})\n"
            f"    worker memory growth: {made.growth_mb:.1f} MB (goal < {MEMORY_GOAL_MB} MB; RSS "
            f"{made.rss_before / 1e6:.1f} MB before, sampled peak {made.rss_sampled_peak / 1e6:.1f} MB, "
            f"kernel peak {made.rss_kernel_peak / 1e6:.1f} MB)"
        )
    print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


def print_summary(results: list[EndpointResult]) -> None:
    print("\n=== summary (medians over rounds; a ratio is the zip's throughput over a copy's in the same round)")
    print(
        "| endpoint | files, total | zip variant | managed copy | streamed copy | zip | of which completing | "
        "zip / managed | zip / streamed | RSS growth | CPU s, this process: streamed; zip | "
        "CPU s, S3 server: streamed; zip | load average (start; end) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for variant in r.variants:
            zip_seconds = statistics.median(x.zips[variant].phase.seconds for x in r.rounds)
            completing = statistics.median(x.zips[variant].completing_seconds for x in r.rounds)
            print(
                f"| {r.endpoint} | {r.files} x {r.total_bytes / r.files / MIB:.2f} MiB, {r.total_bytes / MIB:.0f} MiB "
                f"| {variant} "
                f"| {r.mib_s(r.median(lambda x: x.managed.seconds)):.1f} MiB/s "
                f"| {r.mib_s(r.median(lambda x: x.streamed.seconds)):.1f} MiB/s "
                f"| {r.mib_s(zip_seconds):.1f} MiB/s "
                f"| {completing:.1f} s "
                f"| {r.ratio(variant, 'managed'):.2f} | {r.ratio(variant, 'streamed'):.2f} "
                f"| {r.growth_mb(variant):.1f} MB "
                f"| {r.median(lambda x: x.streamed.self_cpu):.1f}; {statistics.median(x.zips[variant].phase.self_cpu for x in r.rounds):.1f} "
                f"| {r.median(lambda x: x.streamed.server_cpu):.1f}; {statistics.median(x.zips[variant].phase.server_cpu for x in r.rounds):.1f} "
                f"| {r.load_at_start[0]:.1f}; {r.rounds[-1].managed.load:.1f} |"
            )
    for r in results[:1]:
        print("zip settings: " + ", ".join(f"{k}={v}" for k, v in sorted(r.build_settings.items())))
        for variant, changes in r.variants.items():
            print(f"  {variant}: " + (", ".join(f"{k}={v}" for k, v in changes.items()) or "the settings above"))


def _from_json(data: dict[str, Any]) -> EndpointResult:
    rounds = [
        Round(
            managed=Phase(**r["managed"]),
            streamed=Phase(**r["streamed"]),
            zips={name: ZipRun(**{**z, "phase": Phase(**z["phase"])}) for name, z in r["zips"].items()},
        )
        for r in data.pop("rounds")
    ]
    data["load_at_start"] = tuple(data["load_at_start"])
    return EndpointResult(**data, rounds=rounds)


def parse_variant(text: str) -> tuple[str, dict[str, int]]:
    """'NAME:SETTING=VALUE,SETTING=VALUE' (INTAKE_BUNDLE_* settings, integers)."""
    name, _, changes = text.partition(":")
    settings: dict[str, int] = {}
    for change in filter(None, changes.split(",")):
        key, _, value = change.partition("=")
        if not key.startswith("INTAKE_BUNDLE_") or not value.isdigit():
            raise argparse.ArgumentTypeError(f"not NAME:INTAKE_BUNDLE_X=N[,...]: {text!r}")
        settings[key] = int(value)
    return name, settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--total-mib", type=int, default=2048)
    parser.add_argument("--endpoint", choices=["emulator", "ceph", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=1, help="managed copy, streamed copy, zips: this many times")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        type=parse_variant,
        metavar="NAME:SETTING=N,...",
        help="also make the zip with these INTAKE_BUNDLE_* settings, in the same rounds "
        "(e.g. 'in line:INTAKE_BUNDLE_READ_AHEAD_BYTES=0,INTAKE_BUNDLE_PARTS_IN_FLIGHT=1')",
    )
    parser.add_argument("--profile", action="store_true", help="print where the build's time went (cProfile)")
    parser.add_argument("--json", type=Path, default=None, help="write the measurements to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one endpoint of a 'both' run
    args = parser.parse_args()
    total = args.total_mib * MIB
    variants = {"defaults": {}, **dict(args.variant)}
    if args.endpoint == "both":
        results = []
        with tempfile.TemporaryDirectory(prefix="intake-bench-bundle-") as tmp:
            for name in ("emulator", "ceph"):
                out = Path(tmp) / f"{name}.json"
                command = [sys.executable, __file__, "--child", "--endpoint", name, "--json", str(out)]
                command += [
                    "--files",
                    str(args.files),
                    "--total-mib",
                    str(args.total_mib),
                    "--rounds",
                    str(args.rounds),
                ]
                for variant, changes in args.variant:
                    command += ["--variant", f"{variant}:" + ",".join(f"{k}={v}" for k, v in changes.items())]
                if args.profile:
                    command.append("--profile")
                subprocess.run(command, check=False)
                if not out.exists():
                    raise SystemExit(f"the {name} run did not finish")
                results += [_from_json(item) for item in json.loads(out.read_text())]
    else:
        with tempfile.TemporaryDirectory(prefix="intake-bench-bundle-") as tmp:
            var_dir = Path(tmp)
            # Ceph's OSD keeps every byte in RAM: the sources and one copy at a time (copies and
            # zips are deleted and garbage collected after each phase), with room to spare.
            context = emulator(var_dir) if args.endpoint == "emulator" else ceph(memstore_bytes=2 * total + 2 * GIB)
            with context as endpoint:
                results = [
                    bench_endpoint(
                        endpoint,
                        var_dir,
                        files=args.files,
                        total=total,
                        rounds=args.rounds,
                        variants=variants,
                        profile=args.profile,
                    )
                ]
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    if not args.child:
        print_summary(results)
    missed = [
        r for r in results if r.growth_mb("defaults") >= MEMORY_GOAL_MB or r.ratio("defaults", "streamed") < RATIO_GOAL
    ]
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
