"""HTTP load on PostgreSQL: the demo's one-process server against bin/serve, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/candor_load REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/load_http.py [--entries 100000] [--seconds 30]

Seeds (once) a clinic with a ledger of `--entries` entries, starts each server in turn on the same
database, and measures three endpoints: the consent log (`/api/v1/consents/likeness/`), the ledger
list (`/api/v1/ledger/entries/`, keyset pages) and a page (`/verify/`), each with a compliance
officer's API token where one is needed.

Open loop: 50 clients each send one request per second at scheduled times (≈ 50 requests/s); a
request's latency counts from its scheduled time, so a slow server cannot hide its queue
(coordinated omission). Closed loop: 50 clients with no pause, for the saturation throughput.
The client is a small asyncio HTTP/1.1 client with one keep-alive connection per virtual client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

ENDPOINTS = {
    "consent log": "/api/v1/consents/likeness/?limit=50",
    "ledger list": "/api/v1/ledger/entries/?limit=50",
    "page (/verify/)": "/verify/",
}


def _settings_env(database_url: str, redis_url: str, var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "load-bench-" + "k" * 60,
        "CANDOR_PROVENANCE_WATERMARK_KEY": "w" * 64,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CANDOR_VAR_DIR": str(var_dir),
        "CANDOR_LEDGER_SIGNING_KEY_FILE": str(var_dir / "ledger.pem"),
    }


def seed(entries: int) -> str:
    """Migrate, create the clinic and its compliance officer, grow the ledger; return an API token."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from consent.ledger import ledger_append
    from consent.models import LedgerEntry
    from core.models import Clinic, Role, User
    from core.services import clinic_create, clinic_member_create

    call_command("migrate", verbosity=0)
    clinic = Clinic.objects.filter(slug="load").first() or clinic_create(
        name="Load clinic", slug="load", contact_email="desk@load.example"
    )
    officer = User.objects.filter(username="load-compliance").first() or clinic_member_create(
        clinic=clinic,
        username="load-compliance",
        password=secrets.token_urlsafe(16),
        role=Role.COMPLIANCE_OFFICER,
    )
    have = LedgerEntry.objects.count()
    start = time.perf_counter()
    while have < entries:
        with transaction.atomic():
            for n in range(min(2000, entries - have)):
                ledger_append(
                    event_type="bench.load",
                    clinic_id=clinic.id,
                    object_type="bench",
                    object_id=f"o{have + n}",
                    subject=officer.pk,
                )
        have = LedgerEntry.objects.count()
        print(f"  ledger {have}/{entries} ({time.perf_counter() - start:.0f} s)", flush=True)
    token, _ = Token.objects.get_or_create(user=officer)
    # As on a server that has been running: autovacuum would have gathered the planner statistics
    # for the freshly grown table by now. Without them the ledger page reads every entry of the clinic
    # and sorts them (48 ms instead of 0.08 ms at 20,000 entries), which the earlier runs measured.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return str(token.key)


# --- a minimal keep-alive HTTP/1.1 client -----------------------------------------------------------


@dataclass
class Connection:
    port: int
    token: str
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        auth = f"Authorization: Token {self.token}\r\n" if path.startswith("/api/") else ""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1])


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def row(self) -> str:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")

        rate = len(ordered) / self.elapsed if self.elapsed else 0.0
        return (
            f"{len(ordered):6d} req  {rate:6.1f}/s  p50 {pct(0.5):7.1f} ms  p95 {pct(0.95):7.1f} ms  "
            f"p99 {pct(0.99):7.1f} ms  errors {self.errors}"
        )


async def open_loop(port: int, token: str, path: str, clients: int, seconds: float) -> Result:
    result = Result()
    start = time.perf_counter() + 0.5

    async def client(offset: float) -> None:
        connection = Connection(port, token)
        n = 0
        while True:
            scheduled = start + offset + n
            if scheduled - start >= seconds:
                return
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                status = await connection.get(path)
                if status != 200:
                    result.errors += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                connection = Connection(port, token)
            result.latencies.append(time.perf_counter() - scheduled)
            n += 1

    await asyncio.gather(*(client(random.random()) for _ in range(clients)))
    result.elapsed = seconds
    return result


async def closed_loop(port: int, token: str, path: str, clients: int, seconds: float) -> Result:
    result = Result()
    end = time.perf_counter() + seconds

    async def client() -> None:
        connection = Connection(port, token)
        while time.perf_counter() < end:
            sent = time.perf_counter()
            try:
                if await connection.get(path) != 200:
                    result.errors += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                connection = Connection(port, token)
            result.latencies.append(time.perf_counter() - sent)

    begun = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.elapsed = time.perf_counter() - begun
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    if kind == "demo (1 process)":
        command = [
            str(ROOT / ".venv/bin/uvicorn"), "--app-dir", "platform", "config.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-proxy-headers",
        ]  # fmt: skip
    else:
        command = [str(ROOT / "bin/serve")]
        env = {**env, "CANDOR_HOST": "127.0.0.1", "CANDOR_PORT": str(port)}
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(120):
        time.sleep(0.5)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2):  # noqa: S310
                return server, port
        except OSError:
            continue
    server.kill()
    raise SystemExit(f"{kind} did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/candor_load")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    var_dir = ROOT / "var" / "load-bench"
    var_dir.mkdir(parents=True, exist_ok=True)
    env = _settings_env(database_url, redis_url, var_dir)
    os.environ.update(env)
    if not (var_dir / "ledger.pem").exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        (var_dir / "ledger.pem").write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    print(f"seeding a ledger of {args.entries} entries (once) ...", flush=True)
    token = seed(args.entries)
    print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    for kind in ("demo (1 process)", f"bin/serve ({os.cpu_count()} processes)"):
        server, port = start_server(kind, env)
        try:
            print(f"\n{kind}")
            for name, path in ENDPOINTS.items():
                opened = asyncio.run(open_loop(port, token, path, args.clients, args.seconds))
                print(f"  {name:16s} open loop {args.clients}×1/s:  {opened.row()}", flush=True)
            for name, path in ENDPOINTS.items():
                closed = asyncio.run(closed_loop(port, token, path, args.clients, args.seconds / 2))
                print(f"  {name:16s} closed loop {args.clients}:  {closed.row()}", flush=True)
            print(f"  load average after: {os.getloadavg()}")
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
