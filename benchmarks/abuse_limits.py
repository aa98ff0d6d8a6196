"""How fast the server refuses abuse, beside an ordinary call measured in the same run (the anchor).

Starts a demo store server on loopback, then times: an ordinary `GET /config` (anchor), a declared 300 MB
enrolment (413), a chunked 100 MB batch (413 after the cap), a failed-enrolment streak (429), and how long
the server needs to answer again after 400 stalled connections; it prints the server's memory before and
after. Run it before a release:

    .venv/bin/python benchmarks/abuse_limits.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server.test_limits import raw, rss_mb  # noqa: E402
from tests.support.server import init_demo_server  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = init_demo_server(Path(tmp))
        with server.config_path.open("a", encoding="utf-8") as f:
            f.write("\n[limits]\nheader_timeout_seconds = 2.0\nmax_connections = 300\n")
        server.start()
        try:
            key = server.enrol("cashier")["device_key"]
            auth = {"Authorization": f"Bearer {key}"}
            before = rss_mb(server.proc.pid)
            anchor, declared, chunked, limited = [], [], [], []
            megabyte = b"x" * (1 << 20)
            chunk = b"%x\r\n" % len(megabyte) + megabyte + b"\r\n"
            for _ in range(args.rounds):
                started = time.monotonic()
                requests.get(f"{server.url}/api/v1/config", headers=auth, timeout=10).raise_for_status()
                anchor.append(time.monotonic() - started)
                answer, took = raw(server, "POST /api/v1/devices/enrol HTTP/1.1\r\nHost: b\r\n"
                                           f"Content-Length: {300 << 20}\r\n\r\n", (megabyte for _ in range(300)))
                assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
                declared.append(took)
                answer, took = raw(server, "POST /api/v1/operations:batch HTTP/1.1\r\nHost: b\r\n"
                                           "Transfer-Encoding: chunked\r\n\r\n", (chunk for _ in range(100)))
                assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
                chunked.append(took)
            for i in range(10 + args.rounds):
                started = time.monotonic()
                r = requests.post(f"{server.url}/api/v1/devices/enrol", timeout=10,
                                  json={"enrolment_token": f"guess-{i}", "name": "b", "role": "entrance"})
                if r.status_code == 429:
                    limited.append(time.monotonic() - started)
            after = rss_mb(server.proc.pid)
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
            stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(400)]
            started = time.monotonic()
            while True:
                try:
                    if requests.get(f"{server.url}/api/v1/config", headers=auth, timeout=5).ok:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            recovered = time.monotonic() - started
            for s in stalled:
                s.close()
        finally:
            server.stop()
    a = median_ms(anchor)
    print(f"anchor GET /config:                  {a:7.1f} ms")
    for label, samples in (("413 for a declared 300 MB enrolment", declared),
                           ("413 for a chunked 100 MB batch", chunked), ("429 for enrolment guessing", limited)):
        print(f"{label + ':':37}{median_ms(samples):7.1f} ms  ({median_ms(samples) / a:.1f}x anchor)")
    print(f"answering again after 400 stalled connections (head deadline 2 s): {recovered:.1f} s")
    print(f"server memory: {before:.0f} MB before, {after:.0f} MB after {args.rounds * 400} MB of refused bodies")


if __name__ == "__main__":
    main()
