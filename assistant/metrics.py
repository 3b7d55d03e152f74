"""Prometheus metrics: what the webhook, the workers, search and the media readers record,
and the queue gauges read from the database when `/metrics` is scraped.

Two ways to run, chosen when the process starts (prometheus_client reads the variable
when it is first imported, so it must be in the process environment, not only in `.env`):

- Per process (default): each process keeps its metrics in memory, and `/metrics` shows
  the process that answers it. Right for `make run`, where one process runs the webhook
  and its worker threads.
- Multiprocess (`PROMETHEUS_MULTIPROC_DIR` set): every process (uvicorn workers, `assistant
  worker` processes on the same machine) writes its values to files in that directory,
  and a scrape of any web process adds them all up with `MultiProcessCollector`. The
  directory must be emptied when a deployment starts (files of an earlier run would add
  their counts to the new one's).

Either way the database gauges (queue depth by state, dead letters, the kind of database)
are computed by the scrape itself, so they are the same whichever process answers.

The metrics live in this module's own registry, not prometheus_client's global default,
so nothing else registered in the process (a library's metrics) ends up in `/metrics`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.queue import Inbox

log = logging.getLogger(__name__)

# The text format every Prometheus server reads (newer clients default to a version
# older servers refuse).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROC_DIR:
    # A missing directory would make the first metric update raise inside a request.
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

# No `*_created` series: multiprocess mode has none, and both modes should read alike.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
if not MULTIPROC_DIR:
    # Memory, CPU and open files of the answering process; in multiprocess mode these
    # would describe only the process that happened to answer, so they are left out.
    from prometheus_client import GCCollector, PlatformCollector, ProcessCollector

    ProcessCollector(registry=REGISTRY)
    PlatformCollector(registry=REGISTRY)
    GCCollector(registry=REGISTRY)

# Webhook acks are milliseconds when all is well; Twilio gives up after 15 s.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15)
# A message: a few ms (a text command) to a minute (a slow model, a long voice note).
PROCESSING_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Search: ~5 ms typical on 50k entries; the semantic side can take longer.
SEARCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
# OCR ~1 s per photo on one core; Whisper a few seconds per voice note.
MEDIA_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)

WEBHOOK_REQUESTS = Counter(
    "webhook_requests",
    "Requests to Twilio's webhooks, by route and HTTP status.",
    ["route", "status"],
    registry=REGISTRY,
)
WEBHOOK_ACK_SECONDS = Histogram(
    "webhook_ack_seconds",
    "Time to answer a Twilio webhook (verify, record, acknowledge).",
    ["route"],
    buckets=ACK_BUCKETS,
    registry=REGISTRY,
)
MESSAGE_PROCESSING_SECONDS = Histogram(
    "message_processing_seconds",
    "Time a worker spent handling one inbox message, by outcome"
    " (done, throttled, failed, parked, lost).",
    ["outcome"],
    buckets=PROCESSING_BUCKETS,
    registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "messages_sent", "WhatsApp messages Twilio accepted from the outbox.", registry=REGISTRY
)
SEND_FAILURES = Counter(
    "send_failures",
    "Outbox sends that failed, by reason: retry (429/5xx, tried again later), refused"
    " (not retried), uncertain (may have gone out), error (unexpected), unconfigured.",
    ["reason"],
    registry=REGISTRY,
)
SPOOL_REJECTED = Counter(
    "spool_rejected",
    "Spooled webhooks set aside in the spool's rejected/ folder instead of replayed, by"
    " reason: unreadable (not a spool record), refused (the database refused its data).",
    ["reason"],
    registry=REGISTRY,
)
SEARCH_SECONDS = Histogram(
    "search_seconds",
    "Time of one catalog search (full text, then by meaning).",
    buckets=SEARCH_BUCKETS,
    registry=REGISTRY,
)
SEARCH_EMPTY = Counter(
    "search_empty", "Searches that found nothing, not even a guess.", registry=REGISTRY
)
PHOTO_TEXT_SECONDS = Histogram(
    "photo_text_seconds",
    "Time to read the text of one photo (OCR), by engine.",
    ["engine"],
    buckets=MEDIA_BUCKETS,
    registry=REGISTRY,
)
TRANSCRIPTION_SECONDS = Histogram(
    "transcription_seconds",
    "Time to transcribe one voice note, by engine.",
    ["engine"],
    buckets=MEDIA_BUCKETS,
    registry=REGISTRY,
)

WEBHOOK_ROUTES = ("/whatsapp", "/twilio/status")


@contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    """Observe the block's duration, whether it returns or raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - start)


def database_kind(settings: Settings) -> str:
    """ "embedded" (the pgserver wheel's server under DATA_DIR) or "external" (configured
    by DATABASE_URL or POSTGRES_DB_*): the same rule that chooses the server at start."""
    return "external" if settings.configured_database_url() else "embedded"


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time: queue depth by state (the partial
    indexes `/healthz` reads, so a few ms however long the history), dead letters, and
    whether the database answered at all."""

    def __init__(self, inbox: Inbox, kind: str, timeout: float = 2.0):
        self.inbox = inbox
        self.kind = kind
        self.timeout = timeout

    def collect(self) -> Iterable[Metric]:
        yield InfoMetricFamily(
            "database", "The database in use: embedded or external.", value={"kind": self.kind}
        )
        up = GaugeMetricFamily("database_up", "1 when the database answered this scrape.")
        try:
            depth = self.inbox.depth(timeout=self.timeout)
        except Exception as exc:  # a scrape must still answer while the database is away
            log.warning("metrics: database unreachable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for box in ("inbox", "outbox"):
            gauge = GaugeMetricFamily(
                f"{box}_depth", f"Rows of the {box} by state (open and parked).", labels=["state"]
            )
            for key, count in depth.items():
                if key.startswith(box + "_"):
                    gauge.add_metric([key.removeprefix(box + "_")], count)
            yield gauge
        dead = GaugeMetricFamily(
            "dead_letters",
            "Messages given up on: inbox rows parked (dead), outbox rows failed.",
            labels=["queue"],
        )
        dead.add_metric(["inbox"], depth["inbox_dead"])
        dead.add_metric(["outbox"], depth["outbox_failed"])
        yield dead


class _Scrape(Collector):
    def __init__(self, collectors: Iterable[Collector]):
        self.collectors = list(collectors)

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(*extra: Collector) -> bytes:
    """The text `/metrics` answers: this process's metrics, or every process's in
    multiprocess mode, followed by `extra` collectors (the database gauges)."""
    own: Collector = MultiProcessCollector(None, path=MULTIPROC_DIR) if MULTIPROC_DIR else REGISTRY
    return generate_latest(_Scrape([own, *extra]))
