"""Prometheus metrics of one server (its own registry, so several apps can live in a process).

>>> m = Metrics()
>>> m.requests.labels("GET", "/health", "200").inc()
>>> b"ponder_requests_total" in m.render()
True
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Requests, latency, generation queue depth, tokens/s, embed batch sizes."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("ponder_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("ponder_request_seconds", "Request latency",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("ponder_generation_queue_depth",
                                 "Generations running or waiting", registry=r)
        self.rejected = Counter("ponder_generation_rejected_total",
                                "Generations refused with 429 (queue full)", registry=r)
        self.cancelled = Counter("ponder_generation_cancelled_total",
                                 "Generations stopped because the client went away", registry=r)
        self.tokens = Counter("ponder_generated_tokens_total", "Tokens generated", registry=r)
        self.tokens_per_second = Histogram(
            "ponder_generation_tokens_per_second", "Generation rate per request",
            buckets=(1, 5, 10, 25, 50, 100, 200, 400, 800), registry=r)
        self.embed_batch = Histogram(
            "ponder_embed_batch_size", "Texts per embed_batch call (dynamic batching)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r)
        self.jobs = Gauge("ponder_ingest_jobs_running", "Ingest jobs running", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["Metrics"]
