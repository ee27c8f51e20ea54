"""Field extraction from OCR results: form classification, label-anchored fields, contribution tables.

Pure core: ``extract_document(pages)`` (pages of ``OcrLine`` or ``PageResult``) → ``DocumentExtraction``; the
label vocabulary is data (``labels.toml``, :func:`load_vocabulary`). Catalog functions live in
:mod:`dangan.extract.store` (``extract_documents``), :mod:`dangan.extract.review` (``review_items``,
``apply_corrections``) and :mod:`dangan.extract.export`; validation in :mod:`dangan.quality`.
"""

import dangan.catalog.validation_models  # noqa: F401  (the validation_result table joins the metadata)
from dangan.extract.document import doc_date_of, extract_document, lines_from_json
from dangan.extract.model import ContributionRow, DocumentExtraction, ExtractedField
from dangan.extract.normalize import Normalized, normalize_value
from dangan.extract.vocab import Vocabulary, load_vocabulary

__all__ = [
    "ContributionRow",
    "DocumentExtraction",
    "ExtractedField",
    "Normalized",
    "Vocabulary",
    "doc_date_of",
    "extract_document",
    "lines_from_json",
    "load_vocabulary",
    "normalize_value",
]
