"""The deployment of docs/deployment.md, run for real: nginx with TLS (deploy/nginx/store-server.conf, the
shipped file) in front of two `store-server serve` processes, and a PostgreSQL streaming replica that follows
the ledger (KIOSK_TEST_PG=1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from store_server.config import ServerConfig
from tests.server import pg
from tests.support.server import ServerProcess, free_port, init_demo_server
from tests.support.times import iso_ago

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "store-server.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def site_for(ports: list[int], listen: int, cert: Path, key: Path) -> str:
    """The shipped site file with this run's ports and certificate, nothing else changed."""
    site = SITE.read_text(encoding="utf-8")
    lines = [line for line in site.splitlines() if "server 127.0.0.1:870" not in line]
    at = next(i for i, line in enumerate(lines) if line.strip() == "keepalive 32;")
    lines[at:at] = [f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;" for p in ports]
    site = "\n".join(lines)
    for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{listen} ssl;"),
                     ("/etc/ssl/loyalty/fullchain.pem", str(cert)), ("/etc/ssl/loyalty/privkey.pem", str(key))):
        assert old in site, old
        site = site.replace(old, new)
    return site


@pytest.fixture
def nginx(tmp_path):
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; ./scripts/test installs it)")
    procs: list[subprocess.Popen] = []

    def start(ports: list[int]) -> str:
        cert, key = tmp_path / "shop.pem", tmp_path / "shop.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
        listen = free_port()
        (tmp_path / "site.conf").write_text(site_for(ports, listen, cert, key), encoding="utf-8")
        # What Debian's /etc/nginx/nginx.conf provides around a site, in this test's own directory.
        temp = "".join(f"{kind}_temp_path {tmp_path / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""
        (tmp_path / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\naccess_log {tmp_path / 'access.log'};\n{temp}include {tmp_path / 'site.conf'};\n}}\n",
            encoding="utf-8")
        proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g",
                                 "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"https://127.0.0.1:{listen}/healthz", verify=str(cert), timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"nginx did not start: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        return f"https://127.0.0.1:{listen}", str(cert)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def lookups_answered(server: ServerProcess) -> float:
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("store_http_requests_total{") and 'cards/{number}"' in line)


def test_nginx_with_tls_in_front_of_two_processes(tmp_path, nginx):
    first = init_demo_server(tmp_path / "shop")
    first.cli("cards", "issue", "10001", "10010")
    token = first.enrolment_token("cashier")
    servers = [first, ServerProcess(first.data_dir, free_port())]  # one database, two processes
    for server in servers:
        server.start()
    try:
        url, ca = nginx([s.port for s in servers])
        health = requests.get(f"{url}/healthz", verify=ca, timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        enrolled = requests.post(f"{url}/api/v1/devices/enrol", verify=ca, timeout=10,
                                 json={"enrolment_token": token, "name": "till 1", "role": "cashier"})
        assert enrolled.status_code == 200, enrolled.text
        auth = {"Authorization": f"Bearer {enrolled.json()['device_key']}"}
        sale = {"id": "deploy-sale-1", "type": "sale", "at": iso_ago(minutes=5),
                "payload": {"card_number": "10001", "amount": 10_000}}
        r = requests.post(f"{url}/api/v1/operations:batch", json={"operations": [sale]}, headers=auth,
                          verify=ca, timeout=30)
        assert r.json()["results"][0]["status"] == "applied"
        for _ in range(20):  # new connections each time: nginx spreads them over both processes
            card = requests.get(f"{url}/api/v1/cards/10001", headers=auth, verify=ca, timeout=10)
            assert card.status_code == 200 and card.json()["balance"] == 1_000
        assert all(lookups_answered(s) > 0 for s in servers), [lookups_answered(s) for s in servers]
        # One process goes down (a restart, a crash): the devices keep being answered by the other, and the
        # batch sent again applies nothing twice.
        servers[1].stop()
        for _ in range(6):
            assert requests.get(f"{url}/api/v1/cards/10001", headers=auth, verify=ca, timeout=10).status_code == 200
            again = requests.post(f"{url}/api/v1/operations:batch", json={"operations": [sale]}, headers=auth,
                                  verify=ca, timeout=30)
            assert again.json()["results"][0]["status"] == "duplicate"
        assert requests.get(f"{url}/api/v1/cards/10001", headers=auth, verify=ca, timeout=10).json()["balance"] == 1_000
    finally:
        for server in servers:
            server.stop()


@pytest.mark.skipif(not pg.enabled(), reason="PostgreSQL tests run with KIOSK_TEST_PG=1")
def test_postgresql_streaming_replica_follows_the_ledger(tmp_path):
    primary = pg.Cluster().start()
    replica_port = free_port()
    replica_dir = primary.root / "replica"
    try:
        url = primary.new_database()
        # The guide's commands: a base backup streamed from the primary, written as a standby (-R).
        primary.run(pg.pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                    "-D", str(replica_dir), "-R", "-X", "stream", "--no-sync")
        primary.run(pg.pg_bin("pg_ctl"), "-D", str(replica_dir), "-l", str(primary.root / "replica.log"), "-w",
                    "start", "-o", f"-h 127.0.0.1 -p {replica_port} -k {primary.root} -F")
        replica_url = url.replace(f":{primary.port}/", f":{replica_port}/")

        shop_dir = tmp_path / "shop"
        shop_dir.mkdir()
        (shop_dir / "server.toml").write_text(ServerConfig(
            data_dir=shop_dir, database_url=url, demo=True, port=free_port(), secret_key=uuid.uuid4().hex,
        ).to_toml(), encoding="utf-8")
        server = init_demo_server(shop_dir)  # init creates the schema in the named database, as Fleet does
        server.cli("cards", "issue", "10001", "10010")
        server.start()
        try:
            key = server.enrol("cashier")["device_key"]
            ops = [{"id": f"replica-{i}", "type": "sale", "at": iso_ago(minutes=5),
                    "payload": {"card_number": f"1000{1 + i % 5}", "amount": 1_000 * (i + 1)}} for i in range(20)]
            r = requests.post(f"{server.url}/api/v1/operations:batch", json={"operations": ops}, timeout=30,
                              headers={"Authorization": f"Bearer {key}"})
            assert all(res["status"] == "applied" for res in r.json()["results"])
        finally:
            server.stop()
        total = "select count(*), coalesce(sum(amount), 0) from ledger"
        with create_engine(url).connect() as conn:
            expected = tuple(conn.execute(text(total)).one())
        assert expected[0] == 20
        replica = create_engine(replica_url)
        deadline, seen = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            with replica.connect() as conn:
                seen = tuple(conn.execute(text(total)).one())
            if seen == expected:
                break
            time.sleep(0.2)
        assert seen == expected, (seen, expected)
        # Reports read from the replica (the guide's report config names it); it refuses writes, so nothing
        # can land there by mistake.
        reports = tmp_path / "reports.toml"
        reports.write_text(server.config_path.read_text(encoding="utf-8").replace(url, replica_url),
                           encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "store_server.cli", "--config", str(reports), "report",
                              "--json", "--by", "device"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert sum(row["count"] for row in rows if row["type"] == "sale" and row["status"] == "applied") == 20, rows
        with replica.connect() as conn, pytest.raises(Exception, match="read-only"):
            conn.execute(text("create table written_by_mistake (i int)"))
        replica.dispose()
    finally:
        subprocess.run([*primary.prefix, pg.pg_bin("pg_ctl"), "-D", str(replica_dir), "-m", "immediate", "stop"],
                       capture_output=True)
        primary.stop()


@pytest.mark.skipif(not pg.enabled(), reason="PostgreSQL tests run with KIOSK_TEST_PG=1")
def test_connections_the_database_dropped_are_replaced_without_a_500(tmp_path, pg_cluster):
    """No per-checkout ping: a restart or failover of PostgreSQL drops every pooled connection. A card look-up
    takes a new connection and answers; other calls answer 503 database_unavailable at most once, never 500."""
    url = pg_cluster.new_database()
    shop_dir = tmp_path / "shop"
    shop_dir.mkdir()
    (shop_dir / "server.toml").write_text(ServerConfig(
        data_dir=shop_dir, database_url=url, demo=True, port=free_port(), secret_key=uuid.uuid4().hex,
    ).to_toml(), encoding="utf-8")
    server = init_demo_server(shop_dir)
    server.cli("cards", "issue", "10001", "10010")
    server.start()
    try:
        auth = {"Authorization": f"Bearer {server.enrol('cashier')['device_key']}"}
        with requests.Session() as s:
            for _ in range(10):  # several pooled connections in use
                assert s.get(f"{server.url}/api/v1/cards/10001", headers=auth, timeout=10).status_code == 200
                assert s.get(f"{server.url}/api/v1/config", headers=auth, timeout=10).status_code == 200
            admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                dropped = conn.execute(text("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                                            "where datname = :db"), {"db": url.rsplit("/", 1)[1]}).scalar()
            admin.dispose()
            assert dropped >= 1
            for _ in range(5):
                assert s.get(f"{server.url}/api/v1/cards/10001", headers=auth, timeout=10).status_code == 200
            statuses = [s.get(f"{server.url}/api/v1/config", headers=auth, timeout=10) for _ in range(5)]
            assert all(r.status_code in (200, 503) for r in statuses), [r.text for r in statuses]
            assert [r.status_code for r in statuses].count(503) <= 1
            assert all(r.json()["error"] == "database_unavailable" for r in statuses if r.status_code == 503)
    finally:
        server.stop()
