"""`GET /metrics`: Prometheus's view of Intake, behind a Bearer token
(INTAKE_METRICS_TOKEN; empty switches the endpoint off).

Two kinds of figures. Instruments the processes record into (the signing histogram,
uploader.ops.metrics.instruments) come from this process, or from every process when
PROMETHEUS_MULTIPROC_DIR is set (prometheus-client's multiprocess mode). Everything
else is read when Prometheus asks, so it is the same whichever web process answers:
uploads by state (one GROUP BY over the state index), the event ledger's pending rows
and how old the oldest is, webhook deliveries by state, Celery task failures and
retries (counted in the shared cache, uploader.ops.metrics.task_counts), and the
backlogs (the events queue's depth, the Celery broker's waiting tasks). A reading
that fails is left out and `intake_metrics_reading_up{reading=…}` says 0.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Iterator

from celery import current_app
from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from uploader.ingest.models import EventOutcome, UploadEvent
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.ops import backlog
from uploader.ops.metrics.task_counts import task_counts
from uploader.uploads.models import Upload, UploadState

logger = logging.getLogger(__name__)


def _uploads() -> Iterator[Metric]:
    family = GaugeMetricFamily("intake_uploads", "Uploads by state.", labels=["state"])
    counts = dict(Upload.objects.order_by().values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    for state in UploadState.values:
        family.add_metric([state], counts.get(state, 0))
    yield family


def _ledger() -> Iterator[Metric]:
    pending = UploadEvent.objects.filter(outcome=EventOutcome.PENDING).aggregate(
        n=Count("id"), oldest=Min("received_at")
    )
    yield GaugeMetricFamily("intake_event_ledger_pending", "S3 event ledger rows not applied yet.", value=pending["n"])
    lag = (timezone.now() - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0
    yield GaugeMetricFamily(
        "intake_event_lag_seconds", "Age of the oldest pending ledger row (0: none pending).", value=max(lag, 0.0)
    )


def _webhooks() -> Iterator[Metric]:
    family = GaugeMetricFamily("intake_webhook_deliveries", "Portal webhook deliveries by state.", labels=["state"])
    rows = WebhookDelivery.objects.order_by().values_list("state").annotate(n=Count("id")).values_list("state", "n")
    counts = dict(rows)
    for state in WebhookDeliveryState.values:
        family.add_metric([state], counts.get(state, 0))
    yield family


def _tasks() -> Iterator[Metric]:
    # Every task module, not only those this web process happened to import (autodiscovery is lazy).
    current_app.loader.import_default_modules()
    names = sorted(name for name in current_app.tasks if name.startswith("uploader.tasks."))
    counts = task_counts(names)
    families = {
        "failures": CounterMetricFamily("intake_task_failures", "Celery tasks that failed, by task.", labels=["task"]),
        "retries": CounterMetricFamily("intake_task_retries", "Celery task retries, by task.", labels=["task"]),
    }
    for (kind, name), count in counts.items():
        families[kind].add_metric([name], count)
    yield from families.values()


def _events_queue() -> Iterator[Metric]:
    waiting = backlog.events_backlog()
    if waiting is not None:
        yield GaugeMetricFamily(
            "intake_events_queue_messages", "Messages waiting in the S3 events queue.", value=waiting
        )


def _celery_backlog() -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "intake_celery_backlog", "Tasks waiting in the Celery broker's queues.", value=backlog.celery_backlog()
    )


READINGS: dict[str, Callable[[], Iterable[Metric]]] = {
    "uploads": _uploads,
    "ledger": _ledger,
    "webhooks": _webhooks,
    "tasks": _tasks,
    "events_queue": _events_queue,
    "celery_backlog": _celery_backlog,
}


class IntakeCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "intake_metrics_reading_up", "Whether each reading succeeded (1) or failed (0).", labels=["reading"]
        )
        for name, read in READINGS.items():
            try:
                families = list(read())
            except Exception:
                logger.warning("metrics: the %s reading failed", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


class _ThisProcess(Collector):
    """The instruments of this process (default registry) when not in multiprocess mode."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(IntakeCollector())
    return registry


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.INTAKE_METRICS_TOKEN
    if not token:
        return HttpResponseNotFound("metrics are off (INTAKE_METRICS_TOKEN is empty)\n", content_type="text/plain")
    if not hmac.compare_digest(_bearer(request).encode(), token.encode()):
        return HttpResponseForbidden(
            "send the metrics token as Authorization: Bearer <token>\n", content_type="text/plain"
        )
    try:
        registry = scrape_registry()
    except ValueError:
        # prometheus-client refuses a multiprocess directory that is not there.
        message = "PROMETHEUS_MULTIPROC_DIR is not a directory: create it before the processes start\n"
        return HttpResponse(message, status=503, content_type="text/plain")
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
