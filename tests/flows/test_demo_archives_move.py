"""The project's own demo archives move between counties, and both counties stay audit-clean.

Issue 13's headline: on the demo data two of three persons could not be transferred (the receiver's PDF check
tripped on the searchable PDFs dangan writes), and a receiver's fixity audit failed right after a successful
transfer. Here the demo batch (digitized with real OCR and its searchable PDFs) goes to a second county: one
person online, one through `dangan migrate`'s flow, one on removable media (a sealed bag), then both sites' fixity
audits pass and a master damaged at the source is repaired from the other county's copy by content.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Person
from dangan.catalog.sites import add_site
from dangan.config import load_settings
from dangan.fixity import audit_registered_site
from dangan.samples import generate_samples
from dangan.storage import open_store
from dangan.transfer import run_transfer
from dangan.transfer.keys import signer
from dangan.transfer.retry import RetryPolicy
from dangan.transfer.sealed import export_sealed, import_sealed
from flows.params import config_ref

SRC, DST = "330106", "330108"
FAST = RetryPolicy(attempts=3, base=0.01, cap=0.05)


def test_demo_persons_transfer_and_both_sites_stay_audit_clean(prefect_harness, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from flows.digitize import digitize
    from flows.migrate import regional_migration

    settings = load_settings(data_dir=tmp_path / "data")
    src = add_site(settings, SRC, "杭州市西湖区")
    add_site(settings, DST, "杭州市余杭区", store_url=str(tmp_path / "store-330108"))
    batch = generate_samples(tmp_path / "samples", 3, seed=0, site=SRC, bad_files=False)
    digitize(
        source=str(batch.scans_dir), site=SRC, manifest=str(batch.manifest_path), config=config_ref(settings)
    )
    with session_scope(src.catalog_url) as s:
        people = list(s.scalars(select(Person).where(Person.site_code == SRC).order_by(Person.id)))
        pdfs = s.scalars(select(Derivative).where(Derivative.kind == "document-pdf")).all()
        assert len(people) == 3 and pdfs  # searchable PDFs travel with the archives
        first, second_id, third = people[0].resident_id, people[1].id, people[2].resident_id

    assert run_transfer(settings, first, SRC, DST, retry=FAST).state == "done"
    try:
        report = regional_migration(
            from_site=SRC, to_site=DST, selector={"person_ids": [second_id]}, config=config_ref(settings)
        )
    finally:  # the Prefect test server is shared by the session: leave no concurrency limit behind
        with get_client(sync_client=True) as client:
            for name in (f"storage-{SRC}", f"storage-{DST}"):
                client.delete_global_concurrency_limit_by_name(name)
    assert report["by_status"] == {"done": 1}, report
    signer(settings, DST)  # the receiver's key is registered before a bag is sealed to it
    sealed = tmp_path / "usb" / "third.dangan-bag"
    export_sealed(settings, third, SRC, sealed, to_site=DST)
    assert import_sealed(settings, sealed, DST, retry=FAST).state == "done"

    for site in (SRC, DST):
        audit = audit_registered_site(settings, site)
        assert audit.passed and not audit.findings, (site, [f.to_dict() for f in audit.findings])

    # a master damaged at the source comes back from the other county's copy, found by its content
    store = open_store(src.store_url)
    victim = next(o.key for o in store.list(f"sites/{SRC}/masters/"))
    path = Path(src.store_url) / victim
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not audit_registered_site(settings, SRC).passed
    repaired = audit_registered_site(settings, SRC, repair=True)
    assert [f.repaired for f in repaired.findings] == [True], [f.to_dict() for f in repaired.findings]
    assert audit_registered_site(settings, SRC).passed
    assert audit_registered_site(settings, DST).passed  # the copy it came from is untouched
