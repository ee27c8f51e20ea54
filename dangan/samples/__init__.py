"""Synthetic scanned social-insurance documents with ground truth, for tests, demos and OCR evaluation.

``generate_samples(out_dir, persons=3, seed=0)`` writes, per person, a 参保人员登记表 (registration form), a
个人账户对账单 (account statement, one or two pages) and a 转移接续申请表 (transfer form) as TIFF, JPEG, PNG
or PDF scans (in ``scans/``) with realistic scanner degradations, plus a few broken files, ``manifest.csv``
and one ``ground_truth/<stem>.json`` per file. See :mod:`dangan.samples.generate` for the format plan.
"""

from dangan.samples.generate import MANIFEST_COLUMNS, RETENTION, SampleBatch, generate_samples

__all__ = ["MANIFEST_COLUMNS", "RETENTION", "SampleBatch", "generate_samples"]
