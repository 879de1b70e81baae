"""`python -m search.bench.serve_load RUN_DIR`: the local server (scripts/serve.py) under load.

Starts the server on a free loopback port, as a user does, and sends it image files from concurrent
clients (each its own keep-alive connection): single digits (PNG) and photo-like written numbers
(JPEG), made from the run's own test images. Prints the latency (p50, p99), the requests answered per
second, the errors (anything but a 200 with an answer) and the server's resident memory before and
after. Bounded in requests and in time; exits 1 on any error.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from results.run import open_run
from search.bench.photo_like import CONDITIONS, make_picture

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"  # loopback only


def payloads(run_dir: str, count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """`count` image files (name, bytes): every other one a digit, the rest numbers of 2-5 digits."""
    tests = open_run(run_dir).test_predictions
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        if i % 2 == 0:
            image = tests.images[rng.integers(len(tests.labels))]
            picture = Image.fromarray(255 - image).resize((112, 112), Image.Resampling.BICUBIC)
            out.append((f"digit{i}.png", _encoded(picture, "PNG")))
        else:
            chosen = rng.integers(len(tests.labels), size=int(rng.integers(2, 6)))
            made = make_picture(list(tests.images[chosen]), list(tests.labels[chosen]), rng.choice(CONDITIONS), rng)
            out.append((f"number{i}.jpg", _encoded(Image.fromarray(made.pixels), "JPEG")))
    return out


def _encoded(picture: Image.Image, form: str) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=form, quality=90)
    return buffer.getvalue()


def start_server(run_dir: str) -> tuple[subprocess.Popen, str]:
    """scripts/serve.py RUN_DIR on a free loopback port, once it answers; (the process, its address)."""
    command = [sys.executable, str(ROOT / "scripts" / "serve.py"), run_dir, "--host", HOST, "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("serving "):
        server.kill()
        raise SystemExit(f"error: the server did not start (exit {server.wait()})")
    return server, line.rsplit(" at ", 1)[1].strip()


def resident_mb(pid: int) -> float:
    """A process' resident memory (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """A process' CPU time so far (user and system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(url: str, files: list[tuple[str, bytes]], requests: int, clients: int, seconds: float) -> dict:
    """Send `requests` of `files` (in turn) from `clients` threads, none started after `seconds`;
    latencies in seconds, errors, and the wall time."""
    import httpx

    jobs = itertools.islice(itertools.cycle(files), requests)
    taking = threading.Lock()
    latencies, errors = [], []
    start = time.perf_counter()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=120) as session:
            while time.perf_counter() - start < seconds:
                with taking:
                    job = next(jobs, None)
                if job is None:
                    return
                name, body = job
                sent = time.perf_counter()
                try:
                    response = session.post("/predict", content=body, params={"name": name})
                    ok = response.status_code == 200 and "number" in response.json()
                    problem = None if ok else f"{name}: {response.status_code} {response.text[:200]}"
                except httpx.HTTPError as e:
                    problem = f"{name}: {type(e).__name__}: {e}"
                latencies.append(time.perf_counter() - sent)
                if problem:
                    errors.append(problem)

    with ThreadPoolExecutor(clients) as pool:
        for running in [pool.submit(client) for _ in range(clients)]:
            running.result()
    return {"latencies": latencies, "errors": errors, "wall": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit 1 on any error."""
    p = argparse.ArgumentParser(prog="python -m search.bench.serve_load", description=__doc__.splitlines()[0])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory to serve")
    p.add_argument("--requests", type=int, default=500, help="requests to send (default 500)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--max-seconds", type=float, default=600, help="start no request after this (default 600)")
    p.add_argument("--files", type=int, default=64, help="different image files to send in turn (default 64)")
    args = p.parse_args(argv)
    files = payloads(args.run_dir, args.files)
    server, url = start_server(args.run_dir)
    try:
        before, cpu_before, busy_before = resident_mb(server.pid), cpu_seconds(server.pid), os.getloadavg()[0]
        result = load(url, files, args.requests, args.clients, args.max_seconds)
        after, cpu = resident_mb(server.pid), cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(60)
    latencies = sorted(result["latencies"])
    p50, p99 = (statistics.quantiles(latencies, n=100, method="inclusive")[q - 1] for q in (50, 99))
    print(f"server {url}: {len(latencies)} requests from {args.clients} clients in {result['wall']:.1f} s")
    print(f"latency p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms; {len(latencies) / result['wall']:.1f} requests/s")
    print(f"errors {len(result['errors'])}; server memory {before:.0f} MB before, {after:.0f} MB after")
    # On a shared machine the wall-clock figures depend on what else runs; the CPU time does much less.
    print(
        f"server CPU {1000 * cpu / len(latencies):.0f} ms a request; {os.cpu_count()} CPUs, load average "
        f"{busy_before:.1f} before and {os.getloadavg()[0]:.1f} after"
    )
    for problem in result["errors"][:5]:
        print(f"  {problem}")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
