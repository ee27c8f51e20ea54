"""Transfer errors (stable codes; permanent unless stated). Kept here so the transfer package owns its codes."""

from __future__ import annotations

from dangan.errors import PermanentError


class TransferError(PermanentError):
    """Base of transfer failures; the transfer row records ``code`` as its reason."""

    code = "TRANSFER_FAILED"


class TransferPersonNotFound(TransferError):
    code = "TRANSFER_PERSON_NOT_FOUND"
    default_hint = "Check the resident ID and the source site code."


class TransferPersonNotActive(TransferError):
    code = "TRANSFER_PERSON_NOT_ACTIVE"
    default_hint = "The archive was already transferred out of this site."


class TransferAlreadyOpen(TransferError):
    """The person already has an open transfer from this site to another destination."""

    code = "TRANSFER_ALREADY_OPEN"
    default_hint = "Finish (rerun `dangan transfer` with its destination) or fail that transfer first."


class TransferSameSite(TransferError):
    code = "TRANSFER_SAME_SITE"


class TransferNotFound(TransferError):
    code = "TRANSFER_NOT_FOUND"


class TransferStateError(TransferError):
    """The transfer is in a state this step cannot start from (e.g. it failed earlier)."""

    code = "TRANSFER_STATE"


class TransferVerifyFailed(TransferError):
    """Receiver-side checks (四性检测) failed; ``problems`` lists each property, file and code."""

    code = "TRANSFER_VERIFY_FAILED"
    default_hint = "The package was not committed. Inspect the named files at both sites, then request again."


class TransferReceiverConflict(TransferError):
    """The receiving site already holds this person (or a page of a transferred master) from elsewhere."""

    code = "TRANSFER_RECEIVER_CONFLICT"


class BagRefused(TransferError):
    """An offline bag failed validation; ``files`` names every offending file."""

    code = "TRANSFER_BAG_REFUSED"
    default_hint = "Export the package again from the source site; do not edit bags by hand."


class TransferWrongDestination(TransferError):
    code = "TRANSFER_WRONG_DESTINATION"


class ReceiptInvalid(TransferError):
    code = "TRANSFER_RECEIPT_INVALID"
