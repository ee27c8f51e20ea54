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
    default_hint = (
        "Nothing was committed and the receiver was cleaned up. Each problem names its file and what to do; "
        "correct the source, then request the transfer again."
    )


class TransferReceiverConflict(TransferError):
    """The receiving site already holds this person (or a page of a transferred master) from elsewhere."""

    code = "TRANSFER_RECEIVER_CONFLICT"
    default_hint = (
        "Compare both copies with the receiving site's staff and resolve the duplicate there, then request again."
    )


class BagRefused(TransferError):
    """An offline bag failed validation; ``files`` names every offending file."""

    code = "TRANSFER_BAG_REFUSED"
    default_hint = (
        "Nothing was written at this site. Each problem names its file and what to do: content the receiver "
        "rejects must be corrected at the source before a new export; a damaged bag needs a new export."
    )


class TransferWrongDestination(TransferError):
    code = "TRANSFER_WRONG_DESTINATION"
    default_hint = "Import the bag at the site it is addressed to, or export a new package with `--to` this site."


class ReceiptInvalid(TransferError):
    code = "TRANSFER_RECEIPT_INVALID"


class SignatureRefused(TransferError):
    """A bag or receipt signature that this site cannot accept; ``details['reason']`` says which check failed
    (SIGNATURE_MISSING, SIGNATURE_UNKNOWN_KEY, SIGNATURE_WRONG_SITE, SIGNATURE_KEY_REVOKED, SIGNATURE_INVALID …)."""

    code = "TRANSFER_SIGNATURE_REFUSED"
    default_hint = (
        "Nothing was written. The package is not provably from its source site: ask the source to send it again, "
        "and check the source's public key with `dangan keys list`. / 包的来源无法验证，未写入任何数据。"
    )
