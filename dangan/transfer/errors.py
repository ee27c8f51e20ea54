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


class TransferPackageFormat(TransferError):
    """A package whose ``catalog.json`` names another format than ``dangan-archive/1`` (not a dangan archive)."""

    code = "TRANSFER_PACKAGE_FORMAT"
    default_hint = (
        "Nothing was written. This is not a dangan archive package: import only bags exported by `dangan package "
        "export` or sent by `dangan transfer`. "
        "/ 不是 dangan 档案数据包，未写入任何数据：请只导入由 dangan 导出或转移的数据包。"
    )


class TransferPackageVersion(TransferError):
    """A package of a version this dangan does not read (made by a newer dangan, or a version that never existed)."""

    code = "TRANSFER_PACKAGE_VERSION"
    default_hint = (
        "Nothing was written. Upgrade dangan at this site to the source site's release, then import or transfer "
        "again. "
        "/ 数据包版本高于本站 dangan 所能读取的版本，未写入任何数据：请将本站 dangan 升级到与转出地相同的版本后重试。"
    )


class TransferPackageInvalid(TransferError):
    """Package metadata that does not match its model (a missing key, a wrong type); ``file`` names the document."""

    code = "TRANSFER_PACKAGE_INVALID"
    default_hint = (
        "Nothing was written. The package metadata is damaged or was edited: export a new package at the source "
        "site; never edit a bag by hand. "
        "/ 数据包元数据损坏或被修改，未写入任何数据：请在转出地重新导出，切勿手工修改数据包。"
    )


class ReceiptVersionUnsupported(ReceiptInvalid):
    """A receipt of a newer format version than this dangan reads (``details['reason']`` is RECEIPT_VERSION)."""

    code = "TRANSFER_RECEIPT_VERSION"
    default_hint = (
        "Upgrade dangan at this site to the receiving site's release, then run the same transfer again (it resumes "
        "and re-reads the receipt). / 回执版本高于本站 dangan 所能读取的版本：请升级本站 dangan 后重新执行该转移。"
    )
