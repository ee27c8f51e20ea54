"""``infra/minio/setup.sh`` against a recording stand-in for ``mc``: the commands it sends, the JSON it
generates, idempotent re-runs, and refusals before anything reaches the server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[2] / "infra" / "minio" / "setup.sh"
SECRETS = {"330106": "s3cret-330106-test", "110105": "s3cret-110105-test"}

# Logs every call; keeps the lifecycle/policy documents it is handed; can answer `policy attach` the way
# older mc releases do when the policy is already attached.
FAKE_MC = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$MC_LOG"
case "$1 $2 $3" in
  "ilm rule import") cat >"$MC_OUT/lifecycle-${4##*/}.json" ;;
  "admin policy create") cp "$6" "$MC_OUT/policy-$5.json" ;;
  "admin policy attach")
    if [[ -n ${MC_ATTACHED:-} ]]; then
      echo "mc: <ERROR> Unable to make policy association. The specified policy change is already in effect." >&2
      exit 1
    fi ;;
esac
exit 0
"""


@pytest.fixture()
def fake_mc(tmp_path: Path) -> dict[str, str]:
    bin_dir, out = tmp_path / "bin", tmp_path / "out"
    bin_dir.mkdir()
    out.mkdir()
    mc = bin_dir / "mc"
    mc.write_text(FAKE_MC)
    mc.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "MC_LOG": str(tmp_path / "mc.log"),
        "MC_OUT": str(out),
        "MINIO_URL": "http://minio.test:9000",
        "MINIO_ROOT_USER": "admin",
        "MINIO_ROOT_PASSWORD": "root-password-test",
        "DANGAN_SITES": "330106 110105",
    }
    env.update({f"DANGAN_S3_SECRET_KEY_{code}": secret for code, secret in SECRETS.items()})
    return env


def _run(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SETUP)], env={**env, **extra}, capture_output=True, text=True, timeout=30)


def _calls(env: dict[str, str]) -> list[str]:
    log = Path(env["MC_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def test_each_site_gets_a_locked_bucket_lifecycle_user_and_own_policy(fake_mc: dict[str, str]) -> None:
    result = _run(fake_mc)
    assert result.returncode == 0, result.stderr
    calls = _calls(fake_mc)
    assert calls[0] == "alias set dangan-admin http://minio.test:9000 admin root-password-test"
    for code, secret in SECRETS.items():
        bucket = f"dangan-admin/dangan-{code}"
        assert f"mb --ignore-existing --with-lock {bucket}" in calls
        assert f"retention set --default GOVERNANCE 1d {bucket}" in calls
        assert f"ilm rule import {bucket}" in calls
        assert f"admin user add dangan-admin dangan-{code} {secret}" in calls
        assert f"admin policy attach dangan-admin dangan-site-{code} --user dangan-{code}" in calls

        policy = json.loads(Path(fake_mc["MC_OUT"], f"policy-dangan-site-{code}.json").read_text())
        allowed = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        resources = {r for s in allowed for r in s["Resource"]}
        assert resources == {f"arn:aws:s3:::dangan-{code}", f"arn:aws:s3:::dangan-{code}/*"}
        actions = {a for s in allowed for a in s["Action"]}
        assert "s3:PutObject" in actions and not any(a.endswith("*") for a in actions)
        denied = {a for s in policy["Statement"] if s["Effect"] == "Deny" for a in s["Action"]}
        assert {"s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration"} <= denied

        lifecycle = json.loads(Path(fake_mc["MC_OUT"], f"lifecycle-dangan-{code}.json").read_text())
        prefixes = {rule["Filter"]["Prefix"] for rule in lifecycle["Rules"]}
        assert prefixes == {f"sites/{code}/derivatives/"}  # masters are never expired
        noncurrent = [
            r["NoncurrentVersionExpiration"]["NoncurrentDays"]
            for r in lifecycle["Rules"]
            if "NoncurrentVersionExpiration" in r
        ]
        assert noncurrent == [30]
        assert all("Days" not in r.get("Expiration", {}) for r in lifecycle["Rules"])
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS.values())


def test_rerun_with_policy_already_attached_succeeds(fake_mc: dict[str, str]) -> None:
    assert _run(fake_mc).returncode == 0
    again = _run(fake_mc, MC_ATTACHED="1")
    assert again.returncode == 0, again.stderr
    assert "done: 2 site(s)" in again.stdout


def test_settings_change_retention_and_lifecycle(fake_mc: dict[str, str]) -> None:
    result = _run(
        fake_mc,
        DANGAN_SITES="330106",
        DANGAN_MINIO_RETENTION_MODE="compliance",
        DANGAN_MINIO_DEFAULT_RETENTION_DAYS="0",
        DANGAN_MINIO_DERIVATIVE_NONCURRENT_DAYS="90",
    )
    assert result.returncode == 0, result.stderr
    calls = _calls(fake_mc)
    assert "retention clear --default dangan-admin/dangan-330106" in calls
    assert not any(c.startswith("retention set") for c in calls)
    lifecycle = json.loads(Path(fake_mc["MC_OUT"], "lifecycle-dangan-330106.json").read_text())
    assert lifecycle["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"DANGAN_S3_SECRET_KEY_110105": "CHANGE_ME_secret_for_110105"}, "placeholder"),
        ({"DANGAN_S3_SECRET_KEY_110105": "short"}, "at least 8"),
        ({"DANGAN_SITES": "330106 33010"}, "6-digit"),
        ({"DANGAN_SITES": "330106 440305"}, "DANGAN_S3_SECRET_KEY_440305 is not set"),
        ({"DANGAN_MINIO_RETENTION_MODE": "LEGAL"}, "GOVERNANCE or COMPLIANCE"),
        ({"DANGAN_MINIO_DEFAULT_RETENTION_DAYS": "30", "DANGAN_MINIO_DERIVATIVE_NONCURRENT_DAYS": "30"}, "exceed"),
    ],
)
def test_bad_settings_are_refused_before_contacting_minio(
    fake_mc: dict[str, str], extra: dict[str, str], message: str
) -> None:
    result = _run(fake_mc, **extra)
    assert result.returncode != 0
    assert message in result.stderr
    assert _calls(fake_mc) == []
