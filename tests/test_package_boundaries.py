"""Package boundaries that carry the design (ARCHITECTURE.md), checked on the source's imports (``ast``).

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    """``dangan/ocr/engines/base.py`` → ``dangan.ocr.engines.base`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # ``from pkg import module``
    return found


def graph(package: str) -> dict[str, set[str]]:
    """Module → imported names, for every module of ``package`` (a dotted name under the repository root)."""
    folder = ROOT.joinpath(*package.split("."))
    return {module_name(p): imports_of(p) for p in sorted(folder.rglob("*.py"))}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """``module -> import`` lines where a module of ``package`` imports one of ``forbidden`` (or below)."""
    return sorted(
        f"{module} -> {name}"
        for module, names in graph(package).items()
        for name in names
        if any(within(name, bad) for bad in forbidden)
    )


def test_the_import_parser_sees_imports(tmp_path):
    """The checks below are only as good as this parser: lazy, relative and ``from`` imports are all found."""
    names = imports_of(ROOT / "dangan" / "ocr" / "engines" / "registry.py")
    assert {"dangan.errors", "dangan.ocr.engines.options", "dangan.ocr.engines.tesseract"} <= names  # lazy one too
    assert offenders("dangan.ocr.engines", ("dangan.ocr.engines.base",))  # a forbidden name is reported


def test_domain_core_has_no_prefect_and_no_outer_layers():
    """``dangan/`` is the domain core: Prefect, flows, tasks and the CLI build on it, never the reverse."""
    assert offenders("dangan", ("prefect", "flows", "tasks", "cli")) == []


def test_validation_does_not_import_extraction():
    """``extract`` (and review/export on top of it) may use validation; validation reads the field record
    through ``dangan.catalog.fields``, so the two packages have no cycle."""
    assert offenders("dangan.quality", ("dangan.extract",)) == []


@pytest.mark.parametrize("layer", ["dangan.catalog", "dangan.storage"])
def test_engine_library_knows_nothing_of_catalog_or_store(layer):
    """An engine takes page images and returns ``PageResult``s; the OCR stage (``dangan.ocr``) does the rest."""
    assert offenders("dangan.ocr.engines", (layer,)) == []
