"""Data-quality validation of extracted records with Great Expectations (GX Core 1.x).

Modules: ``checks`` (plain predicates), ``expectations`` (custom GX expectations; importing registers them),
``suites`` (suites as code), ``records`` (dataframes to validate), ``runner`` (ephemeral GX context,
per-record outcomes, Data Docs), ``store`` (catalog: ``validate_documents``). GX is imported only by the
modules that need it, so importing this package stays cheap.
"""

import dangan.catalog.validation_models  # noqa: F401  (the validation_result table joins the metadata)
