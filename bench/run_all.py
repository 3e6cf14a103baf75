"""`make bench`: measure the upload contract against its goals, in one run, and print a table.

Starts the S3 emulator (moto) and gunicorn (`config.wsgi`, sync workers, one thread
each) on 127.0.0.1 with PostgreSQL and Redis, signs in as a staff user through the
login form, then measures:

1. requests/s of `GET /api/s3/params` (signing one PUT, inserting one row) against
   `GET /healthz/live` on the same gunicorn, with our signer and with botocore's
   (a second gunicorn with INTAKE_S3_FAST_SIGNING=false), wrk runs interleaved;
1r. (only when selected: `--only 1r`) the same signing call against reference views on
   one gunicorn (bench/reference.py), each doing one more of its steps: bare, sign
   only, session, session + sign, session + registration;
2. p99 latency of signing 100 part URLs in one batch call, 32 connections;
3. a multipart upload through the contract against boto3's upload_file;
4. peak RSS growth of a gunicorn worker (-w 1) during a 1 GiB upload through the contract;
5. (only when selected, e.g. `--only 5`) S3 events from SQS to committed rows through
   consumer processes, Redis and a Celery worker: drain rate and p99 event-to-row
   latency at 1,000 events/s, next to a plain bulk insert (bench/events.py).
6. (only when selected: `--only 6`) Chromium uploads 1 GiB through the staff page to the
   emulator and to a Ceph RADOS Gateway, against boto3's upload_file to the same
   endpoint (bench/browser_upload.py, which also runs alone with more options).

Ratios are computed from medians of interleaved runs, since the machine is noisy.
`--quick` is a short smoke run. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import browser_upload, events, harness, transfer
from bench.harness import Gunicorn, Stack, WrkResult, step

MIB = 1024**2
# Patches of bench/experiments.py the third gunicorn gets with --experiments; none is
# pending (the last ones are in the app), so --experiments adds no server for 1-3.
EXPERIMENTS = ""
EXPERIMENT_LABEL = "bench/experiments.py"
# The gunicorn set-up of benchmarks 1-3 (the bare view and the signing calls share it).
WORKERS = 2
THREADS = 1


@dataclass(frozen=True)
class Plan:
    wrk_seconds: float
    warmup_seconds: float
    rounds: int  # interleaved wrk rounds per comparison
    transfer_bytes: int
    transfer_rounds: int  # uploads of each kind
    memory_bytes: int
    browser_bytes: int
    browser_rounds: int
    part_size: int = 8 * MIB
    concurrency: int = 8
    sign_connections: int = 16
    batch_connections: int = 32
    batch_parts: int = 100
    wrk_threads: int = 2


FULL = Plan(
    wrk_seconds=10,
    warmup_seconds=3,
    rounds=3,
    transfer_bytes=200 * MIB,
    transfer_rounds=3,
    memory_bytes=1024 * MIB,
    browser_bytes=1024 * MIB,
    browser_rounds=2,
)
QUICK = Plan(
    wrk_seconds=2,
    warmup_seconds=1,
    rounds=2,
    transfer_bytes=24 * MIB,
    transfer_rounds=2,
    memory_bytes=64 * MIB,
    browser_bytes=128 * MIB,
    browser_rounds=1,
)


@dataclass
class Row:
    name: str
    measured: str
    reference: str
    value: float
    unit: str
    goal: str
    holds: bool | None  # None: for information, no goal


def median(values: list[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Run:
    """One wrk run and the CPU the server's workers spent on it."""

    wrk: WrkResult
    worker_cpu_ms_per_request: float
    support_cpu_ms_per_request: float  # PostgreSQL backends and Redis
    other_load_cores: float  # everything else busy on the machine meanwhile (not wrk): the noise


def _describe(run: Run) -> str:
    result = run.wrk
    text = (
        f"{result.requests_per_second:8.1f} req/s, CPU/req: workers {run.worker_cpu_ms_per_request:5.2f} ms, "
        f"pg+redis {run.support_cpu_ms_per_request:4.2f} ms; other load {run.other_load_cores:4.2f} cores"
    )
    if result.p99_ms is not None:
        text += f", p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
    if not result.clean:
        text += f"  !! {result.bad_responses} bad answers, {result.socket_errors} socket errors"
    return text


Target = tuple[str, dict[str, str], Gunicorn]  # URL, headers, the server answering


def interleaved(
    plan: Plan, runs: dict[str, Target], *, connections: int, latency: bool = False
) -> dict[str, list[Run]]:
    """wrk each URL once per round, reversing the order every other round."""
    labels = list(runs)
    results: dict[str, list[Run]] = {label: [] for label in labels}
    for number in range(plan.rounds):
        order = labels if number % 2 == 0 else labels[::-1]
        for label in order:
            url, headers, server = runs[label]
            cpu_before, support_before = server.cpu_seconds(), harness.support_cpu_seconds()
            busy_before, children_before = harness.machine_busy_seconds(), _children_cpu_seconds()
            started = time.monotonic()
            result = harness.run_wrk(
                url,
                connections=connections,
                threads=plan.wrk_threads,
                duration=plan.wrk_seconds,
                headers=headers,
                latency=latency,
            )
            elapsed = time.monotonic() - started
            worker_cpu = server.cpu_seconds() - cpu_before
            support_cpu = sum(cpu - support_before.get(pid, 0.0) for pid, cpu in harness.support_cpu_seconds().items())
            wrk_cpu = _children_cpu_seconds() - children_before
            other = harness.machine_busy_seconds() - busy_before - worker_cpu - support_cpu - wrk_cpu
            requests = max(result.requests, 1)
            run = Run(result, worker_cpu * 1000 / requests, support_cpu * 1000 / requests, max(other, 0.0) / elapsed)
            results[label].append(run)
            step(f"  round {number + 1}/{plan.rounds} {label:<28} {_describe(run)}")
    return results


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu(values: list[Run]) -> float:
    return median([run.worker_cpu_ms_per_request for run in values])


def _dump(results: dict[str, list[Run]]) -> dict[str, Any]:
    return {label: [asdict(run) for run in values] for label, values in results.items()}


def warm_up(plan: Plan, urls: list[str], headers: dict[str, str], connections: int) -> None:
    for url in urls:
        harness.run_wrk(
            url, connections=connections, threads=plan.wrk_threads, duration=plan.warmup_seconds, headers=headers
        )


def _expect(answer: Any, what: str) -> Any:
    if answer.status_code != 200:
        raise RuntimeError(f"{what}: HTTP {answer.status_code}: {answer.text[:300]}")
    return answer.json()


# --- 1. Single-upload signing against the bare view ----------------------------------------------------------

# Goal 1 as restated by ADR 0005 (accepted): the signature must not be the cost. Two
# ratios from the same run carry it, next to the first wording for the record.
SIGN_ONLY = "sign only (fast signer)"
REGISTRATION = "session + registration (fast signer)"
GOAL_RATIO = 0.75


def bench_signing(
    plan: Plan, fast: Gunicorn, botocore: Gunicorn, tuned: Gunicorn | None, session: Any, rows: list[Row]
) -> dict[str, Any]:
    """`fast` serves bench.reference (the app plus the reference views of 1r), so the
    restated goals compare views of one gunicorn in one run."""
    query = f"filename=bench.bin&type={quote('application/octet-stream', safe='')}&size={MIB}"
    headers = harness.session_headers(session)
    variants = [
        ("fast signer (default)", "fast signer", fast, True),
        ("botocore presign", "botocore", botocore, False),
    ]
    if tuned:
        variants.append(("experiment: " + EXPERIMENT_LABEL, "experiment", tuned, False))
    runs: dict[str, Target] = {}
    for _, short, server, _ in variants:
        signed = _expect(
            session.get(f"{server.base_url}/api/s3/params?{query}", timeout=10), f"signing on {server.name}"
        )
        if signed["method"] != "PUT" or "X-Amz-Signature=" not in signed["url"]:
            raise RuntimeError(f"unexpected signing answer from {server.name}: {signed}")
        runs[f"healthz/live ({short})"] = (f"{server.base_url}/healthz/live", headers, server)
        runs[f"s3/params ({short})"] = (f"{server.base_url}/api/s3/params?{query}", headers, server)
    for label, path in ((SIGN_ONLY, "/bench/ref/sign"), (REGISTRATION, "/bench/ref/registration")):
        _expect(session.get(f"{fast.base_url}{path}?{query}", timeout=10), f"{label} on {fast.name}")
        runs[label] = (f"{fast.base_url}{path}?{query}", headers, fast)
    step(
        f"1. signing one PUT vs the bare view: wrk -c {plan.sign_connections} -t {plan.wrk_threads} "
        f"-d {plan.wrk_seconds:g}s, {plan.rounds} interleaved rounds (after a {plan.warmup_seconds:g}s warm-up each)"
    )
    warm_up(plan, [url for url, _, _ in runs.values()], headers, plan.sign_connections)
    results = interleaved(plan, runs, connections=plan.sign_connections)
    rps = {label: median([r.wrk.requests_per_second for r in values]) for label, values in results.items()}
    cpu = {label: _cpu(values) for label, values in results.items()}
    clean = all(r.wrk.clean and r.wrk.requests > 0 for values in results.values() for r in values)
    flag = "" if clean else " (!! bad answers, see log)"
    for name, short, _, _ in variants:
        sign, bare = rps[f"s3/params ({short})"], rps[f"healthz/live ({short})"]
        sign_cpu, bare_cpu = cpu[f"s3/params ({short})"], cpu[f"healthz/live ({short})"]
        rows.append(
            Row(
                name=f"1. s3/params / bare view, {name}{flag}",
                measured=f"{sign:.0f} req/s ({sign_cpu:.1f} ms CPU)",
                reference=f"healthz/live {bare:.0f} req/s ({bare_cpu:.1f} ms CPU)",
                value=sign / bare,
                unit="x",
                goal="(first wording, ADR 0005)",
                holds=None,
            )
        )
    bare, sign_only = rps["healthz/live (fast signer)"], rps[SIGN_ONLY]
    rows.append(
        Row(
            name=f"1a. sign-only view / bare view{flag}",
            measured=f"{sign_only:.0f} req/s ({cpu[SIGN_ONLY]:.2f} ms CPU)",
            reference=f"healthz/live {bare:.0f} req/s ({cpu['healthz/live (fast signer)']:.2f} ms CPU)",
            value=sign_only / bare,
            unit="x",
            goal=f">= {GOAL_RATIO}x",
            holds=sign_only / bare >= GOAL_RATIO and clean,
        )
    )
    call, registration = rps["s3/params (fast signer)"], rps[REGISTRATION]
    rows.append(
        Row(
            name=f"1b. s3/params / session + registration view{flag}",
            measured=f"{call:.0f} req/s ({cpu['s3/params (fast signer)']:.2f} ms CPU)",
            reference=f"{registration:.0f} req/s ({cpu[REGISTRATION]:.2f} ms CPU); "
            f"by CPU per request {cpu[REGISTRATION] / cpu['s3/params (fast signer)']:.2f}x",
            value=call / registration,
            unit="x",
            goal=f">= {GOAL_RATIO}x",
            holds=call / registration >= GOAL_RATIO and clean,
        )
    )
    return _dump(results) | {"medians": rps, "worker_cpu_ms": cpu, "clean": clean}


# --- 1r. The signing call against views that each do one more of its steps ----------------------------------------

# Label, path (query included), what the view does. The signing call is compared with each.
SIGNING_CALL = "s3/params (whole call)"
REFERENCES = [
    ("bare", "/healthz/live", "no session, no database"),
    ("sign only", "/bench/ref/sign?{query}", "presign_put_object, no session, no database"),
    ("session", "/bench/ref/session?{query}", "contract_api: session, user, role, CSRF"),
    ("session + sign", "/bench/ref/session-sign?{query}", "session plus the signature, no write"),
    ("session + registration", "/bench/ref/registration?{query}", "session plus Upload row + audit entry"),
]


def bench_reference(plan: Plan, server: Gunicorn, session: Any, rows: list[Row]) -> dict[str, Any]:
    """The signing call's steps, each as a JSON view on the same gunicorn (bench/reference.py)."""
    query = f"filename=bench.bin&type={quote('application/octet-stream', safe='')}&size={MIB}"
    headers = harness.session_headers(session)
    paths = {label: path.format(query=query) for label, path, _ in REFERENCES}
    paths[SIGNING_CALL] = f"/api/s3/params?{query}"
    for label, path in paths.items():
        answer = _expect(session.get(server.base_url + path, timeout=10), f"{label} on {server.name}")
        signs = label in {SIGNING_CALL, "sign only", "session + sign"}
        if signs and "X-Amz-Signature=" not in answer.get("url", ""):
            raise RuntimeError(f"{label}: no signed URL in {answer}")
    runs: dict[str, Target] = {label: (server.base_url + path, headers, server) for label, path in paths.items()}
    step(
        f"1r. the signing call against its steps (bench/reference.py): wrk -c {plan.sign_connections} "
        f"-t {plan.wrk_threads} -d {plan.wrk_seconds:g}s, {plan.rounds} interleaved rounds of {len(runs)} URLs"
    )
    warm_up(plan, [url for url, _, _ in runs.values()], headers, plan.sign_connections)
    results = interleaved(plan, runs, connections=plan.sign_connections)
    clean = all(r.wrk.clean and r.wrk.requests > 0 for values in results.values() for r in values)
    rps = {label: median([r.wrk.requests_per_second for r in values]) for label, values in results.items()}
    worker = {label: _cpu(values) for label, values in results.items()}
    support = {label: median([r.support_cpu_ms_per_request for r in values]) for label, values in results.items()}
    other = {label: [round(r.other_load_cores, 2) for r in values] for label, values in results.items()}
    sign = rps[SIGNING_CALL]
    step("1r. medians: req/s, CPU per request (workers + PostgreSQL/Redis), other load per round (cores)")
    for label in [*paths]:
        step(
            f"  {label:<24} {rps[label]:8.1f} req/s  {worker[label]:5.2f} + {support[label]:4.2f} ms  "
            f"other load {other[label]}"
        )
    for label, _, does in REFERENCES:
        rows.append(
            Row(
                name=f"1r. s3/params / {label}" + ("" if clean else " (!! bad answers, see log)"),
                measured=f"{sign:.0f} req/s ({worker[SIGNING_CALL]:.2f}+{support[SIGNING_CALL]:.2f} ms CPU)",
                reference=f"{label}: {rps[label]:.0f} req/s ({worker[label]:.2f}+{support[label]:.2f} ms CPU; {does})",
                value=sign / rps[label],
                unit="x",
                goal="(reference)",
                holds=None,
            )
        )
    return _dump(results) | {
        "medians": rps,
        "worker_cpu_ms": worker,
        "support_cpu_ms": support,
        "clean": clean,
    }


# --- 2. Signing 100 parts in one call ------------------------------------------------------------------------------


def bench_batch(
    plan: Plan, fast: Gunicorn, botocore: Gunicorn, tuned: Gunicorn | None, session: Any, rows: list[Row]
) -> dict[str, Any]:
    size = plan.batch_parts * plan.part_size
    created = _expect(
        session.post(
            f"{fast.base_url}/api/s3/multipart",
            json={
                "filename": "batch.bin",
                "type": "application/octet-stream",
                "size": size,
                "partSize": plan.part_size,
            },
            timeout=30,
        ),
        "creating the multipart upload",
    )
    numbers = ",".join(str(n) for n in range(1, plan.batch_parts + 1))
    path = (
        f"/api/s3/multipart/{quote(created['uploadId'], safe='')}/batch"
        f"?key={quote(created['key'], safe='')}&partNumbers={numbers}"
    )
    variants = [("fast signer", fast, True), ("botocore", botocore, False)]
    if tuned:
        variants.append(("experiment", tuned, False))
    headers = harness.session_headers(session)
    runs: dict[str, Target] = {}
    for short, server, _ in variants:
        signed = _expect(session.get(server.base_url + path, timeout=30), f"batch signing on {server.name}")
        if len(signed["presignedUrls"]) != plan.batch_parts:
            raise RuntimeError(f"{server.name} signed {len(signed['presignedUrls'])} parts, not {plan.batch_parts}")
        runs[f"batch of {plan.batch_parts} ({short})"] = (server.base_url + path, headers, server)
    step(
        f"2. signing {plan.batch_parts} part URLs per call: wrk --latency -c {plan.batch_connections} "
        f"-t {plan.wrk_threads} -d {plan.wrk_seconds:g}s, {plan.rounds} interleaved rounds"
    )
    warm_up(plan, [url for url, _, _ in runs.values()], headers, plan.batch_connections)
    results = interleaved(plan, runs, connections=plan.batch_connections, latency=True)
    clean = all(r.wrk.clean and r.wrk.requests > 0 for values in results.values() for r in values)
    # A run in which no request finished has no latency: count it as the whole run.
    p99 = {
        label: median([(r.wrk.p99_ms or 0.0) if r.wrk.requests else plan.wrk_seconds * 1000 for r in values])
        for label, values in results.items()
    }
    rps = {label: median([r.wrk.requests_per_second for r in values]) for label, values in results.items()}
    for short, _, goal in variants:
        label = f"batch of {plan.batch_parts} ({short})"
        rows.append(
            Row(
                name=f"2. {label}, p99 @ {plan.batch_connections} conns",
                measured=f"{rps[label]:.0f} req/s ({_cpu(results[label]):.1f} ms CPU)",
                reference="-",
                value=p99[label],
                unit="ms",
                goal="< 250 ms" if goal else "(reference)",
                holds=(p99[label] < 250 and clean) if goal else None,
            )
        )
    return _dump(results) | {"p99_medians": p99}


# --- 3. A multipart upload through the contract vs boto3 ----------------------------------------------------------


def bench_transfer(
    plan: Plan, stack: Stack, fast: Gunicorn, session: Any, work_dir: Path, rows: list[Row]
) -> dict[str, Any]:
    assert stack.emulator is not None
    path = work_dir / "transfer.bin"
    step(f"3. writing a {plan.transfer_bytes // MIB} MiB file of random bytes")
    transfer.write_random_file(path, plan.transfer_bytes)
    client = transfer.s3_client(
        stack.emulator.endpoint_url, harness.ACCESS_KEY, harness.SECRET_KEY, max_pool=plan.concurrency + 2
    )
    timings: dict[str, list[float]] = {"contract": [], "boto3": []}
    uploads: dict[str, Callable[[int], transfer.UploadTiming]] = {
        "contract": lambda n: transfer.contract_upload(
            session, fast.base_url, path, part_size=plan.part_size, concurrency=plan.concurrency
        ),
        "boto3": lambda n: transfer.boto3_upload(
            client, harness.BUCKET, path, f"bench/boto3-{n}.bin", part_size=plan.part_size, concurrency=plan.concurrency
        ),
    }
    step(
        f"3. {plan.transfer_bytes // MIB} MiB multipart uploads, {plan.part_size // MIB} MiB parts, "
        f"{plan.concurrency} in parallel: contract vs boto3 upload_file, {plan.transfer_rounds} of each, alternating"
    )
    try:
        for number in range(plan.transfer_rounds):
            order = ["contract", "boto3"] if number % 2 == 0 else ["boto3", "contract"]
            for kind in order:
                timing = uploads[kind](number)
                timings[kind].append(timing.mib_per_second)
                client.delete_object(Bucket=harness.BUCKET, Key=timing.key)  # keep the emulator's memory flat
                step(
                    f"  round {number + 1}/{plan.transfer_rounds} {kind:<9} {timing.seconds:6.2f} s  "
                    f"{timing.mib_per_second:7.1f} MiB/s"
                )
    finally:
        path.unlink(missing_ok=True)
    ours, theirs = median(timings["contract"]), median(timings["boto3"])
    rows.append(
        Row(
            name=f"3. {plan.transfer_bytes // MIB} MiB multipart upload, contract vs boto3",
            measured=f"{ours:.1f} MiB/s",
            reference=f"boto3 {theirs:.1f} MiB/s",
            value=ours / theirs,
            unit="x",
            goal=">= 0.95x",
            holds=ours / theirs >= 0.95,
        )
    )
    return {"mib_per_second": timings, "medians": {"contract": ours, "boto3": theirs}}


# --- 4. Web process memory during a big upload -----------------------------------------------------------------------


class RssSampler:
    """Polls a process's VmRSS every 20 ms (a cross-check of VmHWM)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, harness.memory_kib(self.pid)["VmRSS"])
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def bench_memory(plan: Plan, server: Gunicorn, session: Any, work_dir: Path, rows: list[Row]) -> dict[str, Any]:
    (pid,) = server.worker_pids()
    path = work_dir / "memory.bin"
    cold = harness.memory_kib(pid)
    try:
        step(f"4. warming the worker up (RSS {cold['VmRSS'] / 1024:.1f} MiB) with a 16 MiB upload through the contract")
        transfer.write_sparse_file(path, 16 * MIB)
        transfer.contract_upload(session, server.base_url, path, part_size=plan.part_size, concurrency=plan.concurrency)
        transfer.write_sparse_file(path, plan.memory_bytes)
        before = harness.memory_kib(pid)
        reset = harness.reset_peak(pid)
        step(
            f"4. {plan.memory_bytes // MIB} MiB upload through the contract (gunicorn -w 1, worker pid {pid}, "
            f"RSS before {before['VmRSS'] / 1024:.1f} MiB, peak reset: {'yes' if reset else 'no'})"
        )
        with RssSampler(pid) as sampler:
            timing = transfer.contract_upload(
                session, server.base_url, path, part_size=plan.part_size, concurrency=plan.concurrency
            )
        after = harness.memory_kib(pid)
    finally:
        path.unlink(missing_ok=True)
    peak_kib = max(after["VmHWM"] if reset else 0, sampler.peak_kib, after["VmRSS"])
    growth_mb = (peak_kib - before["VmRSS"]) * 1024 / 1e6
    step(
        f"  upload took {timing.seconds:.1f} s ({timing.mib_per_second:.1f} MiB/s); RSS {before['VmRSS'] / 1024:.1f} → "
        f"{after['VmRSS'] / 1024:.1f} MiB, peak {peak_kib / 1024:.1f} MiB (sampled {sampler.peak_kib / 1024:.1f} MiB)"
    )
    rows.append(
        Row(
            name=f"4. worker peak RSS growth, {plan.memory_bytes // MIB} MiB upload",
            measured=f"peak {peak_kib / 1024:.1f} MiB",
            reference=f"before {before['VmRSS'] / 1024:.1f} MiB",
            value=growth_mb,
            unit="MB",
            goal="< 20 MB",
            holds=growth_mb < 20,
        )
    )
    return {
        "cold_kib": cold,
        "before_kib": before,
        "after_kib": after,
        "peak_reset": reset,
        "sampled_peak_kib": sampler.peak_kib,
        "growth_mb": growth_mb,
        "upload_seconds": timing.seconds,
    }


# --- 6. Chromium through the staff page vs boto3 ------------------------------------------------------------------


def bench_browser(plan: Plan, rows: list[Row]) -> dict[str, Any]:
    """Starts its own emulator, gateway, gunicorn and Chromium (bench/browser_upload.py)."""
    results = browser_upload.bench_browser(
        size=plan.browser_bytes, endpoints=["emulator", "ceph"], rounds=plan.browser_rounds
    )
    browser_upload.report(results)
    for result in results:
        medians = result.medians()
        ours, theirs = medians["browser"], medians["boto3"]
        rows.append(
            Row(
                name=f"6. {plan.browser_bytes // MIB} MiB from Chromium via the staff page vs boto3, {result.endpoint}",
                measured=f"{ours:.1f} MiB/s",
                reference=f"boto3 {theirs:.1f} MiB/s",
                value=ours / theirs,
                unit="x",
                goal=f">= {browser_upload.GOAL}x",
                holds=ours / theirs >= browser_upload.GOAL,
            )
        )
    return {"endpoints": [asdict(result) for result in results]}


# --- Running it all ----------------------------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    header = ("Benchmark", "Measured", "Reference", "Result", "Goal", "Holds")
    lines = [
        (
            row.name,
            row.measured,
            row.reference,
            f"{row.value:.2f}{row.unit}" if row.unit == "x" else f"{row.value:.1f} {row.unit}",
            row.goal,
            "-" if row.holds is None else ("yes" if row.holds else "NO"),
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    separator = "  ".join("-" * w for w in widths)
    print("\n" + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(separator)
    for line in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    print(flush=True)


def _print_log_tails(var_dir: Path) -> None:
    for log in sorted(var_dir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-20:]
        if lines:
            print(f"--- last lines of {log.name}:", *lines, sep="\n  ", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short smoke run: 2 s wrk runs, small files")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a goal is not met")
    parser.add_argument(
        "--only",
        default="1234",
        help="which benchmarks to run, e.g. 12, 1r (the signing call against its steps), 5 or 6 (default: 1234)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement to this file")
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="also measure a third gunicorn with candidate app changes patched in (bench/experiments.py) "
        "and, with 5, a drain by a worker with bench/events.py's EXPERIMENTS",
    )
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help=f"gunicorn workers for benchmarks 1-3 (default: {WORKERS})"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=THREADS,
        help=f"threads per worker for benchmarks 1-3; above 1 the gthread worker class (default: {THREADS})",
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if not re.fullmatch(r"(?:[1-6]r?)+", args.only) or "r" in args.only.replace("1r", ""):
        parser.error(f"--only: not a selection of 1, 1r, 2, 3, 4, 5, 6: {args.only!r}")
    only = set(re.findall(r"\dr?", args.only))
    if shutil.which("wrk") is None and {"1", "1r", "2"} & only:
        print("error: wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2

    rows: list[Row] = []
    details: dict[str, Any] = {"plan": asdict(plan), "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        var_dir = Path(tmp)
        stack = Stack(var_dir=var_dir)
        failed = True
        try:
            if only - {"6"}:  # benchmark 6 starts its own servers
                step(f"preparing PostgreSQL database {harness.BENCH_DATABASE} (Redis {harness.REDIS_URL})")
                harness.ensure_database()
                step("starting the S3 emulator")
                emulator = stack.start_emulator()
                step(f"  moto on {emulator.endpoint_url}; migrating, configuring bucket {harness.BUCKET}, staff user")
                stack.password = harness.prepare_app(stack.env())
            if {"1", "2", "3"} & only:
                setup = {"workers": args.workers, "threads": args.threads}
                described = f"gunicorn -w {args.workers} --threads {args.threads}"
                # bench.reference is the app plus the reference views benchmark 1 compares with.
                fast = stack.start_gunicorn("fast", **setup, app="bench.reference")
                botocore = stack.start_gunicorn("botocore", **setup, fast_signing=False)
                step(f"{described}: {fast.base_url} (fast signer), {botocore.base_url} (INTAKE_S3_FAST_SIGNING=false)")
                tuned = None
                if args.experiments and EXPERIMENTS:
                    tuned = stack.start_gunicorn(
                        "experiment", **setup, app="bench.experiments", extra_env={"BENCH_EXPERIMENTS": EXPERIMENTS}
                    )
                    step(f"{described}: {tuned.base_url} (experiment: {EXPERIMENTS})")
                session = harness.login(fast.base_url, stack.password)
                if "1" in only:
                    details["signing"] = bench_signing(plan, fast, botocore, tuned, session, rows)
                if "2" in only:
                    details["batch"] = bench_batch(plan, fast, botocore, tuned, session, rows)
                stack.stop_gunicorn(botocore)
                if tuned:
                    stack.stop_gunicorn(tuned)
                if "3" in only:
                    details["transfer"] = bench_transfer(plan, stack, fast, session, var_dir, rows)
                stack.stop_gunicorn(fast)
            if "1r" in only:
                reference = stack.start_gunicorn(
                    "reference", workers=args.workers, threads=args.threads, app="bench.reference"
                )
                step(f"gunicorn -w {args.workers} --threads {args.threads} bench.reference: {reference.base_url}")
                session = harness.login(reference.base_url, stack.password)
                details["reference"] = bench_reference(plan, reference, session, rows)
                stack.stop_gunicorn(reference)
            if "4" in only:
                single = stack.start_gunicorn("memory", workers=1)
                step(f"gunicorn -w 1 --threads 1 for the memory benchmark: {single.base_url}")
                session = harness.login(single.base_url, stack.password)
                details["memory"] = bench_memory(plan, single, session, var_dir, rows)
                stack.stop_gunicorn(single)
            if "5" in only:
                details["events"] = events.bench_events(
                    events.QUICK if args.quick else events.FULL,
                    stack.env(),
                    var_dir,
                    compare_experiments=events.EXPERIMENTS if args.experiments else (),
                )
                rows.extend(Row(**row) for row in details["events"]["rows"])
            if "6" in only:
                stack.close()
                details["browser"] = bench_browser(plan, rows)
            failed = False
        except KeyboardInterrupt:
            step("interrupted; stopping everything")
            return 130
        finally:
            if failed:
                _print_log_tails(var_dir)
            step("stopping gunicorn and the emulator")
            stack.close()
    print_table(rows)
    if args.json:
        details["rows"] = [asdict(row) for row in rows]
        args.json.write_text(json.dumps(details, indent=2))
        step(f"measurements written to {args.json}")
    missed = [row.name for row in rows if row.holds is False]
    if missed:
        step(f"{len(missed)} goal(s) not met (see docs/benchmarks.md)")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
