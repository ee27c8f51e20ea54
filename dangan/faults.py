"""Kill-test hooks outside the transfer protocol (same switch: ``DANGAN_FAULT_KILL_AT=<point>``).

Points here: ``ocr-recorded`` (every OCR chunk of a run has written its rows, no searchable PDF built yet).
The transfer protocol's points are listed in ``dangan.transfer.protocol``.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "DANGAN_FAULT_KILL_AT"


def fault_point(name: str) -> None:
    """SIGKILL this very process when ``DANGAN_FAULT_KILL_AT`` names ``name`` (kill tests only)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
