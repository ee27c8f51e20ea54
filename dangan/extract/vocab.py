"""The label vocabulary (``labels.toml``): which printed labels mean which field, per form type.

Kept as data so a county's variant label is one line in a TOML file, not a code change. A different file can
be passed to :func:`load_vocabulary` (e.g. a site's own additions merged into a copy of the packaged one).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dangan.extract.errors import VocabularyError
from dangan.extract.normalize import KINDS
from dangan.ocr.engines.normalize import normalize_text

PACKAGED = Path(__file__).with_name("labels.toml")
_COLONS = "：:"


def label_key(text: str) -> str:
    """Canonical form of a printed label: normalized text without spaces or a trailing colon."""
    return "".join(normalize_text(text).split()).rstrip(_COLONS)


@dataclass(frozen=True)
class FieldSpec:
    """One field: its normalizer kind, printed labels, and for ranges the two fields it fills."""

    name: str
    kind: str
    labels: tuple[str, ...]
    into: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormSpec:
    """One form type: evidence for classifying it and what to extract from it."""

    name: str
    titles: tuple[str, ...]
    keywords: tuple[str, ...]
    fields: tuple[str, ...]
    date_field: str | None
    table: str | None


@dataclass(frozen=True)
class TableSpec:
    """A ruled table: column name → printed header labels and normalizer kind."""

    name: str
    columns: dict[str, tuple[str, ...]]
    kinds: dict[str, str]
    min_header_columns: int

    def column_of(self, text: str) -> str | None:
        """The column whose header label ``text`` is, if any."""
        key = label_key(text)
        for column, labels in self.columns.items():
            if key in labels:
                return column
        return None


@dataclass(frozen=True)
class Vocabulary:
    """Fields, forms and tables of one label vocabulary (see ``labels.toml``)."""

    version: int
    fields: dict[str, FieldSpec]
    forms: dict[str, FormSpec]
    tables: dict[str, TableSpec]

    def label_index(self, field_names: tuple[str, ...] | None = None) -> dict[str, str]:
        """Label key → field name, for ``field_names`` (all fields when None)."""
        names = field_names if field_names is not None else tuple(self.fields)
        return {label_key(label): name for name in names for label in self.fields[name].labels}

    def all_labels(self) -> frozenset[str]:
        """Every field and table-header label key (an anchor that ends a value, whatever the form)."""
        labels = {label_key(lb) for spec in self.fields.values() for lb in spec.labels}
        labels |= {label_key(lb) for t in self.tables.values() for col in t.columns.values() for lb in col}
        return frozenset(labels)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise VocabularyError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _parse(data: dict, source: str) -> Vocabulary:
    fields: dict[str, FieldSpec] = {}
    for name, spec in data.get("fields", {}).items():
        kind = spec.get("kind", "text")
        if kind not in KINDS:
            raise VocabularyError(f"field {name}: unknown kind {kind!r}", source=source)
        into = _strings(spec.get("into", []), f"fields.{name}.into") if "into" in spec else ()
        if kind == "month_range" and len(into) != 2:
            raise VocabularyError(f"field {name}: a month_range needs two 'into' fields", source=source)
        fields[name] = FieldSpec(name, kind, _strings(spec.get("labels"), f"fields.{name}.labels"), into)
    tables: dict[str, TableSpec] = {}
    for name, spec in data.get("tables", {}).items():
        columns = {col: _strings(labels, f"tables.{name}.columns.{col}") for col, labels in spec["columns"].items()}
        columns = {col: tuple(label_key(lb) for lb in labels) for col, labels in columns.items()}
        kinds = dict(spec.get("kinds", {}))
        if set(kinds) != set(columns) or not set(kinds.values()) <= set(KINDS):
            raise VocabularyError(f"tables.{name}.kinds must give a known kind for every column", source=source)
        tables[name] = TableSpec(name, columns, kinds, int(spec.get("min_header_columns", 3)))
    forms: dict[str, FormSpec] = {}
    for name, spec in data.get("forms", {}).items():
        form = FormSpec(
            name=name,
            titles=_strings(spec.get("titles"), f"forms.{name}.titles"),
            keywords=_strings(spec.get("keywords", []), f"forms.{name}.keywords") if spec.get("keywords") else (),
            fields=_strings(spec.get("fields"), f"forms.{name}.fields"),
            date_field=spec.get("date_field"),
            table=spec.get("table"),
        )
        unknown = [f for f in form.fields if f not in fields]
        if unknown or (form.table and form.table not in tables):
            raise VocabularyError(f"form {name} names unknown fields/table {unknown or form.table}", source=source)
        forms[name] = form
    return Vocabulary(int(data.get("version", 1)), fields, forms, tables)


@lru_cache(maxsize=8)
def load_vocabulary(path: Path | None = None) -> Vocabulary:
    """Parse a label vocabulary TOML file (the packaged ``labels.toml`` by default); cached per path."""
    source = path or PACKAGED
    try:
        data = tomllib.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VocabularyError(f"cannot read label vocabulary: {exc}", source=str(source)) from exc
    return _parse(data, str(source))
