"""Regional migration helpers: who moves (selectors) and the final reconciliation of both sides."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dangan.catalog.db import session_scope
from dangan.catalog.models import Derivative, Document, Dossier, Master, Page, Person, Transfer
from dangan.catalog.sites import get_site
from dangan.config import Settings
from dangan.errors import ConfigError
from dangan.pii import mask_id

_RESIDENT_IDS_REFUSED = (
    "resident IDs are not accepted in a migration selector: Prefect stores flow and task parameters unmasked "
    "in its database and dashboard"
)


def parse_selector(selector: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"all"`` / ``{"all": true}``, ``{"person_ids": [...]}`` (source catalog row ids) or ``{"category": NAME}``.

    Resident IDs are refused here, since a selector is a flow parameter; ``person_ids_for`` turns a list of
    resident IDs into person ids before a flow is started (``dangan migrate --ids-file`` does this)."""
    if selector in (None, "all") or selector == {"all": True}:
        return {"all": True}
    if isinstance(selector, dict) and "resident_ids" in selector:
        raise ConfigError(
            _RESIDENT_IDS_REFUSED,
            hint="Run `dangan migrate --from SITE --to SITE --ids-file FILE` (one resident ID per line): it "
            "starts the migration with catalog person ids instead.",
        )
    if isinstance(selector, dict) and isinstance(selector.get("person_ids"), list):
        try:
            ids = sorted({int(v) for v in selector["person_ids"]})
        except (TypeError, ValueError) as exc:
            raise ConfigError("selector person_ids must be integers (catalog person row ids)") from exc
        return {"person_ids": ids}
    if isinstance(selector, dict) and isinstance(selector.get("category"), str):
        return {"category": selector["category"]}
    raise ConfigError("selector must be 'all', {'person_ids': [...]} or {'category': NAME}")


def person_ids_for(settings: Settings, site: str, resident_ids: list[str]) -> tuple[list[int], list[str]]:
    """Catalog person ids of ``resident_ids`` at ``site``, and the (masked) IDs that site does not hold."""
    wanted = {str(r).strip().upper() for r in resident_ids if str(r).strip()}
    with session_scope(get_site(settings, site).catalog_url) as s:
        found = dict(
            s.execute(
                select(Person.resident_id, Person.id).where(Person.site_code == site, Person.resident_id.in_(wanted))
            )
            .tuples()
            .all()
        )
    return sorted(found.values()), sorted(mask_id(r) for r in wanted - set(found))


def resident_ids_of(settings: Settings, site: str, person_ids: list[int]) -> dict[int, str]:
    """``{person id: resident ID}`` for the ids ``site`` holds (others are absent from the result)."""
    with session_scope(get_site(settings, site).catalog_url) as s:
        rows = (
            s.execute(select(Person.id, Person.resident_id).where(Person.site_code == site, Person.id.in_(person_ids)))
            .tuples()
            .all()
        )
        return dict(rows)


def select_persons(
    settings: Settings, from_site: str, to_site: str, selector: str | dict[str, Any] | None
) -> list[int]:
    """Source catalog person ids to migrate, sorted: active persons matching, plus those already moved to
    ``to_site`` (so a resumed migration accounts for them). An explicit id list is returned as given."""
    sel = parse_selector(selector)
    if "person_ids" in sel:
        return list(sel["person_ids"])
    src = get_site(settings, from_site)
    stmt = select(Person.id).where(
        Person.site_code == from_site,
        or_(Person.status == "active", Person.transferred_to == to_site),
    )
    if "category" in sel:
        stmt = stmt.where(Person.id.in_(select(Dossier.person_id).where(Dossier.category == sel["category"])))
    with session_scope(src.catalog_url) as s:
        return sorted(s.scalars(stmt))


def _totals(session: Session, site: str, resident_ids: list[str]) -> dict[str, int]:
    persons = select(Person.id).where(Person.site_code == site, Person.resident_id.in_(resident_ids))
    docs = select(Document.id).where(Document.dossier_id.in_(select(Dossier.id).where(Dossier.person_id.in_(persons))))
    pages = select(Page.id).where(Page.document_id.in_(docs))
    masters = select(Page.master_id).where(Page.id.in_(pages))

    def one(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    return {
        "persons": one(select(func.count()).select_from(persons.subquery())),
        "documents": one(select(func.count()).select_from(docs.subquery())),
        "pages": one(select(func.count()).select_from(pages.subquery())),
        "masters": one(select(func.count(Master.id)).where(Master.id.in_(masters))),
        "master_bytes": one(select(func.sum(Master.size)).where(Master.id.in_(masters))),
        "derivative_bytes": one(select(func.sum(Derivative.size)).where(Derivative.page_id.in_(pages))),
    }


def reconcile(settings: Settings, from_site: str, to_site: str, person_ids: list[int]) -> dict[str, Any]:
    """Counts and byte totals on both sides, and every selected person (source catalog id) accounted for,
    masked."""
    src, dst = get_site(settings, from_site), get_site(settings, to_site)
    by_id = resident_ids_of(settings, from_site, person_ids)
    resident_ids = sorted(by_id.values())
    items: list[dict[str, Any]] = []
    with session_scope(src.catalog_url) as s:
        people = {
            p.resident_id: p
            for p in s.scalars(
                select(Person).where(Person.site_code == from_site, Person.resident_id.in_(resident_ids))
            )
        }
        transfers: dict[str, Transfer] = {}
        for row in s.scalars(
            select(Transfer)
            .where(
                Transfer.from_site == from_site,
                Transfer.to_site == to_site,
                Transfer.person_resident_id.in_(resident_ids),
            )
            .order_by(Transfer.created_at)
        ):
            transfers[row.person_resident_id] = row  # latest wins
        source_totals = _totals(s, from_site, resident_ids)
    with session_scope(dst.catalog_url) as s:
        received = set(
            s.scalars(
                select(Person.resident_id).where(Person.site_code == to_site, Person.resident_id.in_(resident_ids))
            )
        )
        dest_totals = _totals(s, to_site, resident_ids)
    for pid in person_ids:
        rid = by_id.get(pid, "")
        person = people.get(rid)
        t = transfers.get(rid)
        if person is None:
            status = "not_found"
        elif t is not None and t.state == "done" and rid in received and person.transferred_to == to_site:
            status = "done"
        elif t is not None and t.state == "failed":
            status = "failed"
        else:
            status = "pending"
        items.append(
            {
                "person": mask_id(rid) if rid else f"#{pid}",
                "person_id": pid,
                "status": status,
                "transfer_id": t.id if t else None,
                "state": t.state if t else None,
                "reason_code": t.reason_code if t else None,
            }
        )
    by_status: dict[str, int] = {}
    for item in items:
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    done = [i for i in items if i["status"] == "done"]
    return {
        "from_site": from_site,
        "to_site": to_site,
        "selected": len(person_ids),
        "accounted": len(items),
        "by_status": by_status,
        "source": source_totals,
        "destination": dest_totals,
        "balanced": len(done) == len(items)
        and {k: v for k, v in source_totals.items()} == {k: v for k, v in dest_totals.items()},
        "items": items,
    }
