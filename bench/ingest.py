"""Ingest benchmark: pages/s for ingest + QA + derivatives on the local and S3 backends, with a time split.

Baseline, in the same run: a plain fixity copy of the same files (SHA-256 + store put, no decoding), so the
ratio shows what QA and derivatives cost on top of archiving bytes. Each backend runs in a child process so
its peak RSS is its own. Prints ONE JSON line.

    .venv/bin/python bench/ingest.py --persons 20          # ~80 pages, a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn: Any, bucket: str, acc: dict[str, float]) -> Any:
    def wrapper(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            acc[bucket] += time.perf_counter() - t

    return wrapper


def _timed_iter(fn: Any, acc: dict[str, float]) -> Any:
    def wrapper(*a: Any, **k: Any) -> Any:
        it = fn(*a, **k)
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                acc["decode"] += time.perf_counter() - t
                return
            acc["decode"] += time.perf_counter() - t
            yield item

    return wrapper


def child(backend: str, source: str, manifest: str, store_url: str | None, mode: str) -> dict[str, Any]:
    """Run one measurement in this (fresh) process and return its figures."""
    from dangan.catalog.sites import add_site
    from dangan.config import load_settings
    from dangan.ingest import batch, pipeline
    from dangan.storage.factory import open_store

    data = Path(tempfile.mkdtemp(prefix=f"bench-{backend}-"))
    settings = load_settings(data_dir=data)
    ref = add_site(settings, "330106", "bench", store_url=store_url)
    files = [p for p in sorted(Path(source).rglob("*")) if p.is_file()]
    t0 = time.perf_counter()
    if mode == "baseline":  # fixity copy only: hash + put, no decoding
        store = open_store(ref.store_url)
        for p in files:
            raw = p.read_bytes()
            sha = hashlib.sha256(raw).hexdigest()
            store.put(f"baseline/{sha}", raw, sha256=sha)
        pages, split = None, {}
    else:
        acc: dict[str, float] = defaultdict(float)
        pipeline.iter_pages = _timed_iter(pipeline.iter_pages, acc)  # type: ignore[assignment]
        pipeline.measure = _timed(pipeline.measure, "qa", acc)  # type: ignore[assignment]
        pipeline.evaluate = _timed(pipeline.evaluate, "qa", acc)  # type: ignore[assignment]
        pipeline.make_ocr_derivative = _timed(pipeline.make_ocr_derivative, "derivatives", acc)  # type: ignore[assignment]
        real_open = batch._store

        def timed_store(r: Any) -> Any:
            s = real_open(r)
            s.put = _timed(s.put, "storage", acc)
            return s

        batch._store = timed_store  # type: ignore[assignment]
        report = batch.ingest_batch_local(settings, "330106", source, manifest)
        pages = report["pages"]
        split = dict(acc)
    total = time.perf_counter() - t0
    if pages is not None:
        split["catalog_and_other"] = max(total - sum(split.values()), 0.0)
    return {
        "backend": backend,
        "mode": mode,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "pages": pages,
        "seconds": round(total, 3),
        "split_s": {k: round(v, 3) for k, v in split.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _run_child(*args: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _s3_server() -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    from tests.fixtures_s3 import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import urllib.request

    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except Exception:
            time.sleep(0.2)
    env = {"BENCH_S3_KEY": "testing", "BENCH_S3_SECRET": "testing"}
    url = (
        f"s3://bench/archive?endpoint=127.0.0.1:{port}&secure=false&region=us-east-1"
        "&access_key_env=BENCH_S3_KEY&secret_key_env=BENCH_S3_SECRET"
    )
    return proc, url, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--child", nargs=5, metavar=("BACKEND", "SOURCE", "MANIFEST", "STORE", "MODE"))
    args = parser.parse_args()
    if args.child:
        backend, source, manifest, store, mode = args.child
        print(json.dumps(child(backend, source, manifest, None if store == "-" else store, mode)))
        return
    from dangan.samples import generate_samples

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    t = time.perf_counter()
    sample = generate_samples(work / "batch", args.persons, seed=args.seed)
    gen_s = time.perf_counter() - t
    source, manifest = str(sample.scans_dir), str(sample.manifest_path)
    env = {**os.environ}
    runs = {
        "local": _run_child("local", source, manifest, "-", "pipeline", env=env),
        "local_baseline": _run_child("local", source, manifest, "-", "baseline", env=env),
    }
    if not args.no_s3:
        proc, url, s3env = _s3_server()
        try:
            env.update(s3env)
            runs["s3"] = _run_child("s3", source, manifest, url, "pipeline", env=env)
            runs["s3_baseline"] = _run_child(
                "s3", source, manifest, url.replace("archive", "baseline"), "baseline", env=env
            )
        finally:
            proc.terminate()
    out: dict[str, Any] = {
        "bench": "ingest",
        "persons": args.persons,
        "sample_generation_s": round(gen_s, 2),
        "cpus": os.cpu_count(),
    }
    for name in ("local", "s3"):
        if name not in runs:
            continue
        r, b = runs[name], runs[f"{name}_baseline"]
        out[name] = {
            "pages": r["pages"],
            "files": r["files"],
            "mb": round(r["bytes"] / 1e6, 2),
            "pages_per_s": round(r["pages"] / r["seconds"], 2),
            "baseline_files_per_s": round(b["files"] / b["seconds"], 2),
            "ratio_vs_fixity_copy": round(b["seconds"] / r["seconds"], 3),
            "split_share": {k: round(v / r["seconds"], 3) for k, v in r["split_s"].items()},
            "peak_rss_mb": r["peak_rss_mb"],
            "baseline_peak_rss_mb": b["peak_rss_mb"],
        }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
