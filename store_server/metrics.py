"""The server's Prometheus metrics (GET /metrics, store_server/api/observe.py): requests by route and status,
request latency per route, operations applied or rejected by type, SMS sent or failed by gateway and purpose,
and the outbox backlog each device reports with its batches."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("store_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram("store_http_request_seconds", "Time to answer an HTTP request", ["route"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
OPERATIONS = Counter("store_operations_total", "Device operations by type and outcome", ["type", "status"])
SMS = Counter("store_sms_total", "SMS handed to a gateway, by gateway, purpose and outcome",
              ["gateway", "purpose", "status"])
BACKLOG = Gauge("store_device_outbox_backlog", "Operations a device still holds, as it last reported",
                ["device"], multiprocess_mode="mostrecent")


def count_sms(gateway: str, purpose: str, ok: bool) -> None:
    SMS.labels(gateway or "none", purpose, "sent" if ok else "failed").inc()
