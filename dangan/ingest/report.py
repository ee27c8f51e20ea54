"""The ingest batch report: what became of every file of a batch, built once from the catalog by ``close_batch``.

One model for every surface: the CLI's tables and ``--json``, the Prefect artifacts, the flow's return value,
the copy kept on the batch (``scan_batch.report``) and the 四性检测 check that reads it back. Field names are the
JSON keys operators' scripts read; renderers live in :mod:`dangan.reports`.

File names and the source can name a person: ``display_names`` maps each such text to its masked form (no
personal value the report did not already hold), so any surface masks them without the catalog.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from dangan.pii import Masker


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuarantinedFile(_Part):
    """A file kept in quarantine (original bytes at ``object_key``) and why."""

    file: str
    code: str
    message: str | None = None
    object_key: str | None = None


class DuplicateFile(_Part):
    """A file whose bytes the archive already holds (under ``duplicate_of``)."""

    file: str
    duplicate_of: str | None = None


class PageCountMismatch(_Part):
    """A file accepted with another page count than its manifest line announced."""

    file: str
    expected: int | None = None
    found: int | None = None


class ManifestProblem(_Part):
    """One bad value or line of the batch manifest (values already masked by the manifest parser)."""

    line: int | None = None
    code: str
    column: str | None = None
    reason: str | None = None
    file: str | None = None
    value: str | None = None


class IngestReport(_Part):
    """Totals of a batch over every run (``outcomes``: this run's) and every file that needs a look."""

    batch_id: str
    site: str
    source: str
    files: int
    accepted_files: int
    pages: int
    outcomes: dict[str, int] = Field(default_factory=dict)
    duplicates: list[DuplicateFile] = Field(default_factory=list)
    quarantined: list[QuarantinedFile] = Field(default_factory=list)
    qa_issues: dict[str, int] = Field(default_factory=dict)
    page_count_mismatches: list[PageCountMismatch] = Field(default_factory=list)
    unlisted_files: list[str] = Field(default_factory=list)
    missing_files: list[str] = Field(default_factory=list)
    manifest_problems: list[ManifestProblem] = Field(default_factory=list)
    unaccounted: list[str] = Field(default_factory=list)
    display_names: dict[str, str] = Field(default_factory=dict)

    def masker(self) -> Masker:
        """The masker for this report's file names and source (ID-like tokens too)."""
        return Masker(replacements=self.display_names)

    def masked(self) -> IngestReport:
        """A copy with every file name, the source and messages masked, without ``display_names`` (for output
        that leaves the catalog's trust: ``dangan ingest --json``, the digitize report printed as JSON)."""
        mask: Callable[[object], str] = self.masker()

        def opt(text: str | None) -> str | None:
            return None if text is None else mask(text)

        return self.model_copy(
            update={
                "source": mask(self.source),
                "quarantined": [
                    q.model_copy(update={"file": mask(q.file), "message": opt(q.message)}) for q in self.quarantined
                ],
                "duplicates": [
                    d.model_copy(update={"file": mask(d.file), "duplicate_of": opt(d.duplicate_of)})
                    for d in self.duplicates
                ],
                "page_count_mismatches": [
                    m.model_copy(update={"file": mask(m.file)}) for m in self.page_count_mismatches
                ],
                "manifest_problems": [
                    p.model_copy(update={"file": opt(p.file), "value": opt(p.value)}) for p in self.manifest_problems
                ],
                "unlisted_files": [mask(n) for n in self.unlisted_files],
                "missing_files": [mask(n) for n in self.missing_files],
                "unaccounted": [mask(n) for n in self.unaccounted],
                "display_names": {},
            }
        )

    def public_dict(self) -> dict[str, object]:
        """The masked report as JSON-ready values, keys as always (``display_names`` left out)."""
        return self.masked().model_dump(mode="json", exclude={"display_names"})


class QaPage(_Part):
    """A page that failed an error-level QA gate, with its master's object key."""

    file: str
    page: int
    codes: list[str] = Field(default_factory=list)
    key: str | None = None


class IngestEvidence(_Part):
    """Where an operator finds a batch's quarantined originals and failing pages: object keys, never pre-signed
    URLs (artifacts are read by every dashboard user); ``links`` maps a key to its served, expiring link."""

    quarantine: dict[str, str] = Field(default_factory=dict)
    qa_pages: list[QaPage] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)
