"""Validation chunks keep each person's documents together (cross-document checks run within a chunk)."""

from __future__ import annotations

from pathlib import Path

from dangan.catalog.db import session_scope
from dangan.catalog.models import Document, Dossier, Person, ScanBatch, Site
from dangan.catalog.schema import upgrade
from dangan.ids import make_id
from dangan.pii import mask_id
from dangan.quality.chunks import person_chunks


def test_a_person_is_never_split(tmp_path: Path) -> None:
    from datetime import date

    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    with session_scope(url) as s:
        s.add(Site(code="330106", name="西湖区"))
        s.flush()  # no ORM relationship orders the site before its batch
        batch = ScanBatch(site_code="330106", source="/scans", source_key="k" * 64)
        s.add(batch)
        s.flush()
        people = []
        for n in range(3):
            rid = make_id("330106", date(1980, 1, 1 + n), n, "女")
            person = Person(site_code="330106", resident_id=rid, resident_id_masked=mask_id(rid), name="某")
            s.add(person)
            s.flush()
            dossier = Dossier(person_id=person.id, category="养老保险")
            s.add(dossier)
            s.flush()
            people.append(dossier.id)
        owner: dict[int, int] = {}
        # documents arrive interleaved (scanning order), so id order would cut people apart
        for i, dossier_id in enumerate([people[0], people[1], people[0], people[2], people[1], people[0], None]):
            doc = Document(
                site_code="330106",
                dossier_id=dossier_id,
                batch_id=batch.id,
                source_file=f"f{i}.png",
                form_type="registration",
                page_count=1,
                status="registered",
            )
            s.add(doc)
            s.flush()
            owner[doc.id] = dossier_id or -doc.id
        batch_id = batch.id
    chunks = person_chunks(url, batch_id, size=2)
    assert sorted(d for c in chunks for d in c) == sorted(owner)  # every document, once
    for person in set(owner.values()):
        holding = [i for i, c in enumerate(chunks) if any(owner[d] == person for d in c)]
        assert len(holding) == 1, (person, chunks)  # all of a person's documents in one chunk
    assert max(len(c) for c in chunks) == 3  # a person with 3 documents gets them together, over size 2
