"""Benchmark: a regional migration of generated archives between two sites on the S3 backend.

Prints one JSON line: migration MB/s and archives/s, a plain object-by-object copy of the same masters with
the same client as the baseline (same run, same concurrency), and the share of CPU time spent hashing.

    .venv/bin/python bench/transfer.py --archives 8 --masters 4 --size 512 --concurrency 4

An S3 server is started for the run (moto, on 127.0.0.1) unless ``--endpoint`` names one (credentials from
``DANGAN_BENCH_S3_ACCESS_KEY`` / ``DANGAN_BENCH_S3_SECRET_KEY``). ``--same-bucket`` puts both sites in one
bucket (server-side copies); by default each site has its own bucket (streamed, re-verified copies).

Hashing share is an estimate: bytes hashed per algorithm (SHA-256: source fixity while packaging, two passes
in the S3 put, the receiver's re-hash; SM3: packaging and re-hash) times this machine's measured hash speed,
over the process CPU time of the migration.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dangan.config import load_settings
from dangan.storage import open_store
from dangan.transfer import run_transfer
from dangan.transfer.bag import sm3_available
from tests.transfer.archive import DST, SRC, make_archive, register_sites

ACCESS, SECRET = "DANGAN_BENCH_S3_ACCESS_KEY", "DANGAN_BENCH_S3_SECRET_KEY"


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5).close()
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"127.0.0.1:{port}"


def store_url(endpoint: str, bucket: str, prefix: str) -> str:
    return (
        f"s3://{bucket}/{prefix}?endpoint={endpoint}&secure=false&region=us-east-1"
        f"&access_key_env={ACCESS}&secret_key_env={SECRET}"
    )


def hash_speed(algorithm: str, size: int = 32 << 20) -> float:
    """Bytes per second of one algorithm on this machine."""
    data = os.urandom(size)
    start = time.perf_counter()
    hashlib.new(algorithm, data).hexdigest()
    return size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=8)
    parser.add_argument("--masters", type=int, default=4, help="masters (pages) per archive")
    parser.add_argument("--size", type=int, default=512, help="page width in pixels (noise PNG, ~size² bytes)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--same-bucket", action="store_true")
    parser.add_argument("--endpoint", default=None)
    args = parser.parse_args()
    proc = None
    if args.endpoint is None:
        os.environ.setdefault(ACCESS, "testing")
        os.environ.setdefault(SECRET, "testing")
        proc, endpoint = start_moto()
    else:
        endpoint = args.endpoint
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args, endpoint, Path(tmp))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    print(json.dumps(result))


def run(args: argparse.Namespace, endpoint: str, tmp: Path) -> dict[str, object]:
    settings = load_settings(data_dir=tmp / "data", actor="bench")
    src_bucket, dst_bucket = ("bench-sites", "bench-sites") if args.same_bucket else ("bench-src", "bench-dst")
    src, dst = register_sites(
        settings, src_store=store_url(endpoint, src_bucket, "src"), dst_store=store_url(endpoint, dst_bucket, "dst")
    )
    src_store = open_store(src.store_url)
    archives = [
        make_archive(src, 100 + i, documents=1, pages=args.masters, store=src_store, size=args.size)
        for i in range(args.archives)
    ]
    total = sum(len(b) for a in archives for b in a.masters.values())
    files = sum(len(a.masters) for a in archives)

    # baseline: the same objects copied one by one with the same client, same concurrency
    dst_store = open_store(dst.store_url)
    keys = [k for a in archives for k in a.masters]
    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(lambda k: src_store.copy(k, "baseline/" + k, dst_store=dst_store), keys))
    baseline_s = time.perf_counter() - start

    cpu0, start = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        outcomes = list(pool.map(lambda a: run_transfer(settings, a.resident_id, SRC, DST), archives))
    migration_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu0
    assert all(o.state == "done" for o in outcomes), [o.reason_code for o in outcomes]

    sha_bps = hash_speed("sha256")
    sm3_bps = hash_speed("sm3") if sm3_available() else None
    sha_passes = 4 if not args.same_bucket else 2  # a server-side copy re-hashes nothing client-side
    hash_cpu = total * sha_passes / sha_bps + (total * 2 / sm3_bps if sm3_bps else 0.0)
    mb = total / 1e6
    return {
        "bench": "transfer",
        "backend": "s3 (moto)" if args.endpoint is None else f"s3 {endpoint}",
        "layout": "same-bucket" if args.same_bucket else "bucket-per-site",
        "archives": args.archives,
        "files": files,
        "megabytes": round(mb, 3),
        "concurrency": args.concurrency,
        "migration": {
            "seconds": round(migration_s, 3),
            "mb_per_s": round(mb / migration_s, 3),
            "archives_per_s": round(args.archives / migration_s, 3),
            "cpu_seconds": round(cpu_s, 3),
        },
        "baseline_copy": {"seconds": round(baseline_s, 3), "mb_per_s": round(mb / baseline_s, 3)},
        "migration_vs_baseline": round(migration_s / baseline_s, 2),
        "hashing": {
            "sha256_mb_per_s": round(sha_bps / 1e6, 1),
            "sm3_mb_per_s": round(sm3_bps / 1e6, 1) if sm3_bps else None,
            "estimated_cpu_seconds": round(hash_cpu, 3),
            "share_of_migration_cpu": round(hash_cpu / cpu_s, 4) if cpu_s else None,
        },
    }


if __name__ == "__main__":
    main()
