"""Prometheus metrics of the service, in a registry of its own.

Names follow Prometheus conventions (``gputrain_`` prefix, base units, ``_total`` for
counters) and every label has a small fixed set of values: no job ids anywhere.

- ``gputrain_build_info{version,device}`` 1 for each device a worker uses.
- ``gputrain_jobs{state}`` jobs in the store per state (read at scrape time).
- ``gputrain_jobs_finished_total{kind,outcome}``, ``gputrain_job_duration_seconds{kind}``
  (histogram of run time, summed over a job's attempts).
- ``gputrain_train_words_total``, ``gputrain_train_words_per_second`` (all running jobs),
  ``gputrain_train_loss{kind}`` and ``gputrain_train_epoch`` (the latest reported).
- ``gputrain_running_job_silent_seconds``: the longest any running job has gone without a
  training event (progress, checkpoint, epoch); a stuck trainer makes it grow.
- ``gputrain_device_memory_used_bytes{device}`` on GPU workers (NVML).
"""

from __future__ import annotations

import threading
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily

from gputrain import __version__
from gputrain.service.constants import JOB_DURATION_BUCKETS_SECONDS
from gputrain.service.devicememory import DeviceMemory
from gputrain.service.progress import LiveJob
from gputrain.service.states import OUTCOMES, JobKind, JobState


class LiveBoard:
    """The running jobs' live state, shared by workers (writers) and scrapes (readers)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, LiveJob] = {}
        self._heard: dict[str, float] = {}  # job id -> monotonic time of its last event
        self.last_loss: dict[str, float] = {}
        self.last_epoch: float | None = None

    def start(self, job_id: str, live: LiveJob) -> None:
        with self._lock:
            self._jobs[job_id] = live
            self._heard[job_id] = time.monotonic()

    def update(self, live: LiveJob) -> None:
        with self._lock:
            for job_id, job in self._jobs.items():
                if job is live:
                    self._heard[job_id] = time.monotonic()
            if "loss" in live.metrics:
                self.last_loss[live.kind] = float(live.metrics["loss"])
            if "epoch" in live.metrics:
                self.last_epoch = float(live.metrics["epoch"])

    def finish(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            self._heard.pop(job_id, None)

    def longest_silence(self) -> float:
        """Seconds since the running job heard from least recently sent an event (0: none)."""
        with self._lock:
            now = time.monotonic()
            return max((now - t for t in self._heard.values()), default=0.0)

    def words_per_second(self) -> float:
        with self._lock:
            return float(sum(j.metrics.get("words_per_second", 0.0) for j in self._jobs.values()))


class _ScrapeTimeCollector:
    """Metrics computed when Prometheus scrapes: job counts, live training state, memory."""

    def __init__(self, store, board: LiveBoard, memory: DeviceMemory | None):
        self.store, self.board, self.memory = store, board, memory

    def collect(self):
        jobs = GaugeMetricFamily("gputrain_jobs", "Jobs in the store by state.", labels=["state"])
        for state, n in self.store.counts().items():
            jobs.add_metric([state.value], n)
        yield jobs
        yield GaugeMetricFamily(
            "gputrain_train_words_per_second",
            "Training throughput of the running word2vec jobs, words per second.",
            value=self.board.words_per_second(),
        )
        yield GaugeMetricFamily(
            "gputrain_running_job_silent_seconds",
            "Longest time any running job has gone without a training event, seconds.",
            value=self.board.longest_silence(),
        )
        loss = GaugeMetricFamily(
            "gputrain_train_loss", "Latest training loss reported, per job kind.", labels=["kind"]
        )
        for kind, value in sorted(self.board.last_loss.items()):
            loss.add_metric([kind], value)
        yield loss
        if self.board.last_epoch is not None:
            yield GaugeMetricFamily(
                "gputrain_train_epoch", "Latest epoch reported by a trainer.",
                value=self.board.last_epoch,
            )
        if self.memory is not None and self.memory.available:
            used = GaugeMetricFamily(
                "gputrain_device_memory_used_bytes",
                "GPU memory in use on a worker's device, bytes (NVML).",
                labels=["device"],
            )
            for device, value in sorted(self.memory.used_bytes().items()):
                used.add_metric([device], value)
            yield used


class ServiceMetrics:
    def __init__(self, store, devices: list[str], gpus: dict[str, str]):
        disable_created_metrics()  # no *_created series: they double every counter
        self.registry = CollectorRegistry()
        self.board = LiveBoard()
        build = Gauge(
            "gputrain_build_info", "gputrain version and the devices its workers use.",
            ["version", "device"], registry=self.registry,
        )
        for device in devices:
            build.labels(__version__, device).set(1)
        self.finished = Counter(
            "gputrain_jobs_finished", "Jobs that reached a final state.",
            ["kind", "outcome"], registry=self.registry,
        )
        self.duration = Histogram(
            "gputrain_job_duration_seconds", "Run time of finished jobs, seconds.",
            ["kind"], buckets=JOB_DURATION_BUCKETS_SECONDS, registry=self.registry,
        )
        for kind in JobKind:
            self.duration.labels(kind.value)
            for outcome in OUTCOMES:
                self.finished.labels(kind.value, outcome.value)
        self.words = Counter(
            "gputrain_train_words", "Words trained by word2vec jobs on this server.",
            registry=self.registry,
        )
        self.memory = DeviceMemory(gpus) if gpus else None
        self.registry.register(_ScrapeTimeCollector(store, self.board, self.memory))

    def job_finished(self, kind: str, outcome: JobState, run_seconds: float) -> None:
        self.finished.labels(kind, outcome.value).inc()
        self.duration.labels(kind).observe(max(0.0, run_seconds))
