"""Scale-out on a real Prefect server: deploy, two process workers, one digitization split across both.

Starts `prefect server` on 127.0.0.1 (its own PREFECT_HOME and SQLite), runs `dangan deploy`, starts two
`prefect worker` processes on the `dangan-cpu` pool, triggers the `digitize` deployment with fan_out=true
and checks that both workers ran ingest chunks, that the OCR stage ran on the GPU pool's worker
(`ocr_deployment`), and that the catalog accounts for every file. The flagged
document of the batch gets a ``review-document`` run, which suspends (freeing its worker) until a reviewer's
answer resumes it on a worker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import AuditEvent, Document, OcrResult, Page, ScanBatch
from tests.fixtures_s3 import free_port

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_trigger_command() -> list[str]:
    """The `prefect deployment run digitize/digitize ...` command of the README's "Operating with Prefect"."""
    section = README.read_text(encoding="utf-8").split("## Operating with Prefect", 1)[1].split("\n## ", 1)[0]
    joined = section.replace("\\\n", " ")
    line = next(x for x in joined.splitlines() if "prefect deployment run digitize/digitize" in x)
    return shlex.split(line, comments=True)


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    home = tmp_path / "prefect-home"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'server.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_UI_ENABLED": "false",
        "DANGAN_DATA_DIR": str(tmp_path / "data"),
    }
    home.mkdir()
    server = _spawn(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path / "server.log",
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        _stop(server)
        pytest.fail("prefect server did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
    yield env
    _stop(server)


def test_digitization_fans_out_across_two_workers(prefect_server: dict[str, str], tmp_path: Path) -> None:
    from dangan.samples import generate_samples

    env = prefect_server
    dangan = str(BIN / "dangan")
    subprocess.run([dangan, "init", "--site", "330106", "--name", "西湖区"], env=env, check=True, capture_output=True)
    sample = generate_samples(tmp_path / "batch", 2, seed=11)
    deployed = subprocess.run(
        [
            dangan,
            "deploy",
            *(f"--only={d}" for d in ("digitize", "ingest-chunk", "review", "ocr-gpu")),
            "--storage-slots",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    workers = [
        _spawn(
            [str(BIN / "prefect"), "worker", "start", "--pool", "dangan-cpu", "--name", name, "--limit", "2"],
            {**env, "DANGAN_WORKER_NAME": name},
            tmp_path / f"{name}.log",
        )
        for name in ("w1", "w2")
    ]
    workers.append(  # the GPU pool's worker (on this CPU-only machine OCR falls back to CPU and says why)
        _spawn(
            [str(BIN / "prefect"), "worker", "start", "--pool", "dangan-gpu", "--name", "g1", "--limit", "1"],
            {**env, "DANGAN_WORKER_NAME": "g1"},
            tmp_path / "g1.log",
        )
    )
    try:
        # the README's trigger command as written (site=330106 reaches Prefect as the JSON integer 330106), with
        # this test's scan folder for its example path and the test's own settings file (by reference) added
        cmd = readme_trigger_command()
        cmd[0] = str(BIN / "prefect")
        cmd[cmd.index("source=/scans/2026-11-27")] = f"source={sample.scans_dir}"
        config = tmp_path / "dangan.toml"
        config.write_text(f'data_dir = "{tmp_path / "data"}"\n\n[ingest]\nchunk_size = 1\n', encoding="utf-8")
        cmd += ["--param", f"manifest={sample.manifest_path}", "--param", "ocr_deployment=ocr-pages/ocr-gpu"]
        cmd += ["--param", f"config={config}"]
        triggered = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert triggered.returncode == 0, triggered.stdout[-3000:] + triggered.stderr[-3000:]  # accepted
        run_id = re.search(r"UUID: ([0-9a-f-]{36})", triggered.stdout)
        assert run_id, triggered.stdout
        review = subprocess.run(
            [sys.executable, "-c", REVIEW_SCRIPT, run_id[1]], env=env, capture_output=True, text=True, timeout=1400
        )
        logs = "\n".join((tmp_path / f"{w}.log").read_text(errors="replace")[-2000:] for w in ("w1", "w2", "g1"))
        assert review.returncode == 0, review.stderr[-3000:] + logs
        reviews = json.loads(review.stdout.strip().splitlines()[-1])
        assert reviews["digitize_state"] == "COMPLETED", logs
    finally:
        for w in workers:
            _stop(w)
    db = f"sqlite:///{tmp_path / 'data' / 'catalog.db'}"
    with session_scope(db) as s:
        chunk_actors = [e.actor for e in s.scalars(select(AuditEvent).filter_by(action="ingest.chunk"))]
        batch = s.scalars(select(ScanBatch)).one()
        pages = s.scalars(select(Page.id)).all()
        ocr_pages = set(s.scalars(select(OcrResult.page_id).where(OcrResult.error.is_(None))))
        statuses = dict(s.execute(select(Document.id, Document.status)).tuples().all())
        review_events = s.scalars(select(AuditEvent).filter_by(action="document.validated", actor="reviewer-e2e")).all()
    n_files = len(sample.files)
    assert len(chunk_actors) == n_files  # chunk size 1: one child flow run per file
    assert set(chunk_actors) == {"w1", "w2"}, chunk_actors  # both workers took chunks
    assert batch.status == "complete" and batch.report["unaccounted"] == []
    assert batch.counts["files"] == n_files
    assert batch.counts["accepted"] + batch.counts["quarantined"] == n_files
    assert pages and set(pages) == ocr_pages  # every accepted page has OCR text
    # chunk runs name their files by plan token + number: Prefect shows parameters, file names can hold a name
    shown = json.dumps(reviews["chunk_parameters"], ensure_ascii=False)
    assert len(reviews["chunk_parameters"]) == n_files and "names" not in reviews["chunk_parameters"][0]
    assert not [f for f in sample.files if Path(f).name in shown], shown
    assert reviews["ocr_runs"] == [["COMPLETED", "dangan-gpu"]]  # the OCR stage ran on the GPU pool's worker
    # site=330106 came as the integer the CLI parsed; the flow took it as the site code string and passed that on
    assert str(reviews["digitize_site"]) == "330106"
    assert batch.site_code == "330106"
    assert [p["site"] for p in reviews["chunk_parameters"]] == ["330106"] * n_files
    assert [p["config"] for p in reviews["chunk_parameters"]] == [str(tmp_path / "dangan.toml")] * n_files
    assert reviews["ocr_sites"] == ["330106"]
    # the blank page is a document no form matches: flagged, and its review run waited suspended (no process)
    assert reviews["suspended"] and len(reviews["suspended"]) == reviews["flagged"], reviews
    assert reviews["resumed_state"] == "COMPLETED", (reviews, logs)
    assert statuses[reviews["resumed_document"]] == "validated"  # accepted by the reviewer after the resume
    assert [e.entity_id for e in review_events] == [str(reviews["resumed_document"])]  # who, in the audit trail


# Runs against the test's server: wait until every review run is suspended, then answer one and wait for it.
REVIEW_SCRIPT = """
import json, sys, time
from uuid import UUID
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, FlowRunFilter
from prefect.flow_runs import resume_flow_run

def review_runs(client):
    dep = client.read_deployment_by_name("review-document/review")
    return client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [dep.id]}))

def ocr_runs(client):
    dep = client.read_deployment_by_name("ocr-pages/ocr-gpu")
    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [dep.id]}))
    return [(r.state.type.value, r.work_pool_name) for r in runs], [r.parameters["site"] for r in runs]

def chunk_parameters(client):
    dep = client.read_deployment_by_name("ingest-chunk/ingest-chunk")
    return [r.parameters for r in client.read_flow_runs(deployment_filter=DeploymentFilter(id={"any_": [dep.id]}))]

with get_client(sync_client=True) as client:  # first the digitization the README's command started
    deadline = time.monotonic() + 900
    while not ((run := client.read_flow_run(UUID(sys.argv[1]))).state and run.state.is_final()):
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    digitize = {"digitize_state": run.state.type.value if run.state else None, "digitize_site": run.parameters["site"]}
if digitize["digitize_state"] != "COMPLETED":
    print(json.dumps(digitize))
    raise SystemExit(0)

with get_client(sync_client=True) as client:
    deadline = time.monotonic() + 240
    while True:
        runs = review_runs(client)
        names = [r.state.name for r in runs if r.state]
        if runs and all(n == "Suspended" for n in names):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"review runs not suspended: {names}")
        time.sleep(1)
    first = runs[0]
    ocr, ocr_sites = ocr_runs(client)
    chunks = chunk_parameters(client)
resume_flow_run(first.id, run_input={"reviewer": "reviewer-e2e", "decision": "accept", "reason": "blank page kept"})
with get_client(sync_client=True) as client:
    deadline = time.monotonic() + 240
    while not (done := client.read_flow_run(first.id)).state.is_final() and time.monotonic() < deadline:
        time.sleep(1)
print(json.dumps({"flagged": len(runs), "suspended": [str(r.id) for r in runs],
                  "resumed_state": done.state.type.value, "resumed_document": first.parameters["document_id"],
                  "ocr_runs": ocr, "ocr_sites": ocr_sites, "chunk_parameters": chunks, **digitize}, default=str))
"""
