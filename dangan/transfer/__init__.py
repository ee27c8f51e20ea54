"""Archive transfer between county sites (转移接续): BagIt packages, a resumable protocol, signed receipts.

States (one row per transfer in the source catalog, mirrored at a receiver with its own catalog):
requested → packaged → copied → verified → committed → done, or failed with a stable reason code.

Entry points: :func:`run_transfer` (whole transfer, with backoff on transient errors), :func:`run_step`
(one step; what Prefect tasks wrap), :func:`export_package` / :func:`import_package` (removable media),
:func:`verify_bag` (四性检测 on any bag), :func:`verify_receipt`.
"""

from dangan.transfer.driver import TransferOutcome, outcome, request_transfer, run_step, run_transfer
from dangan.transfer.offline import check_folder, export_package, import_package
from dangan.transfer.receipt import verify_receipt
from dangan.transfer.retry import RetryPolicy
from dangan.transfer.verify import VerifyReport, verify_bag

__all__ = [
    "RetryPolicy",
    "TransferOutcome",
    "VerifyReport",
    "check_folder",
    "export_package",
    "import_package",
    "outcome",
    "request_transfer",
    "run_step",
    "run_transfer",
    "verify_bag",
    "verify_receipt",
]
