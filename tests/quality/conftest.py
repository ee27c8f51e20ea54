"""Quality fixtures: records extracted from two persons' clean sample documents (no OCR needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.extract.helpers import load_truths


@pytest.fixture(scope="session")
def truths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Ground truth of two persons' registration, statement and transfer form (seeded: one has a gap)."""
    from dangan.samples import generate_samples

    out: Path = tmp_path_factory.mktemp("quality")
    generate_samples(out, 2, seed=11, site="330106", degrade=False, bad_files=False, dpi=(200,))
    return load_truths(out)
