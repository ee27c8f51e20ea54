"""Why a transfer was refused, as a list operators can act on: one entry per file and finding.

Every refusal (verification failed, bag refused, wrong destination, receiver conflict, a corrupt source
object …) is turned into problems ``{file, property, code, message, hint, hint_zh}``. The same list goes to
the :class:`~dangan.transfer.driver.TransferOutcome`, the CLI (table and ``--json``), the flow's artifact and
the ``dangan.transfer.failed`` event, so nobody has to read the receiver's ``audit_event`` table to learn why.

Hints name the real next step for each code: a package whose *content* the receiver rejects will be rejected
again if it is merely exported again; the source must be corrected first. Messages and file names are
scrubbed of resident IDs (bag paths are built from hashes and ids, never from personal data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from dangan.pii import scrub
from dangan.transfer import bag
from dangan.transfer.checks import INTEGRITY, Problem

if TYPE_CHECKING:
    from dangan.transfer.verify import VerifyReport

MAX_PROBLEMS = 50  # what a refusal carries (the audit event keeps the same cap)

_SOURCE_FIX = (
    "Correct the document at the source site (re-scan it, or quarantine it there), then request the transfer again",
    "请在转出地更正该文件（重新扫描或隔离）后重新发起转移",
)
_RESEND = (
    "The file changed on the way: run the same transfer command again (export a new package for removable media); "
    "if it repeats, run `dangan fixity` at the source site",
    "文件在传输中被改动：请重新执行转移（移动介质请重新导出）；如再次出现，请在转出地运行 `dangan fixity`",
)
_REEXPORT = (
    "The bag is incomplete or was edited: export a new package at the source site and import that; "
    "never edit a bag by hand",
    "数据包不完整或被修改：请在转出地重新导出并导入新包，切勿手工修改数据包",
)
_CATALOG_FIX = (
    "The source catalog is inconsistent for this archive: fix it at the source site (`dangan fixity`, "
    "reprocess the document), then request the transfer again",
    "转出地目录数据不一致：请在转出地修复（`dangan fixity`、重新处理该文件）后重新发起转移",
)

#: code → (what to do, 怎么办). Codes of ``dangan.transfer.checks`` / ``verify`` and of transfer errors.
HINTS: dict[str, tuple[str, str]] = {
    "ACTIVE_PDF_CONTENT": (
        "The PDF carries active content (JavaScript, launch or embedded files) the receiver refuses: at the source "
        "site quarantine the document or replace it with a flattened scan, then request the transfer again",
        "该PDF含有活动内容（脚本、启动或嵌入文件），转入地拒收：请在转出地隔离该文件或换成扁平扫描件后重新发起转移",
    ),
    "EXECUTABLE_CONTENT": (
        "A program or archive is stored where only scans belong: quarantine it at the source site and re-scan the "
        "document, then request the transfer again",
        "扫描件位置存放了程序或压缩包：请在转出地隔离并重新扫描后重新发起转移",
    ),
    "CONTENT_TYPE_MISMATCH": _SOURCE_FIX,
    "DECODE_FAILED": (
        "The scan cannot be decoded (damaged or over the receiver's size limits): re-scan the document at the "
        "source site, or raise [ingest] limits at the receiver if it is just large, then transfer again",
        "扫描件无法解码（损坏或超出转入地限制）：请在转出地重新扫描，或在转入地调整 [ingest] 限制后重新转移",
    ),
    "FORMAT_MISMATCH": _CATALOG_FIX,
    "PAGE_COUNT_MISMATCH": _CATALOG_FIX,
    "PAGE_SIZE_MISMATCH": _CATALOG_FIX,
    "PAGE_MISSING": _CATALOG_FIX,
    "SIZE_MISMATCH": _RESEND,
    "CHECKSUM_MISMATCH": _RESEND,
    "STORE_CHECKSUM_MISMATCH": (
        "A stored object does not match its recorded SHA-256: run `dangan fixity --site SITE --repair-from REPLICA` "
        "at the site named in the key, then request the transfer again",
        "存储对象与登记的SHA-256不符：请在对应站点运行 `dangan fixity`（可用 --repair-from 修复）后重新发起转移",
    ),
    "STORE_NOT_FOUND": (
        "An object the catalog lists is missing: run `dangan fixity` at the source site and restore it from a "
        "replica, then request the transfer again",
        "目录登记的对象缺失：请在转出地运行 `dangan fixity` 并从副本恢复后重新发起转移",
    ),
    "CATALOG_DIGEST_MISMATCH": _REEXPORT,
    "FILE_MISSING": _REEXPORT,
    "MANIFEST_MALFORMED": _REEXPORT,
    "MANIFEST_DISAGREE": _REEXPORT,
    "OXUM_MISMATCH": _REEXPORT,
    "UNEXPECTED_FILE": _REEXPORT,
    "UNSAFE_PATH": _REEXPORT,
    "METADATA_INVALID": _REEXPORT,
    "BAGIT_INVALID": _REEXPORT,
    "BAGIT_REFUSED": _REEXPORT,
    "NOT_IN_PACKAGE": _CATALOG_FIX,
    "NOT_CATALOGUED": _REEXPORT,
    "DANGLING_REFERENCE": _CATALOG_FIX,
    "PAGE_GAP": _CATALOG_FIX,
    "PAGE_COUNT": _CATALOG_FIX,
    "WRONG_TRANSFER": (
        "The package belongs to another transfer: import the bag exported for this transfer",
        "数据包属于另一次转移：请导入为本次转移导出的数据包",
    ),
    "WRONG_DESTINATION": (
        "The bag is addressed to another site: import it there, or export a new package with `--to` this site",
        "数据包的转入地不是本站：请在正确的站点导入，或以 `--to` 本站重新导出",
    ),
    "TRANSFER_WRONG_DESTINATION": (
        "The bag is addressed to another site: import it there, or export a new package with `--to` this site",
        "数据包的转入地不是本站：请在正确的站点导入，或以 `--to` 本站重新导出",
    ),
    "TRANSFER_RECEIVER_CONFLICT": (
        "The receiving site already holds this person or these pages: compare both copies with the receiving "
        "site's staff and resolve the duplicate there before requesting again",
        "转入地已有该参保人或这些页面：请与转入地核对两份档案并处理重复后再发起转移",
    ),
    "TRANSFER_PERSON_NOT_ACTIVE": (
        "The archive already left the source for another site: request the transfer from the site that holds it",
        "该档案已转往其他地区：请从当前持有档案的站点发起转移",
    ),
    "TRANSFER_PACKAGE_FORMAT": (
        "This is not a dangan archive package: import only bags exported by `dangan package export` or sent by "
        "`dangan transfer`",
        "不是 dangan 档案数据包：请只导入由 dangan 导出或转移的数据包",
    ),
    "TRANSFER_PACKAGE_VERSION": (
        "The package was made by a newer dangan than this site runs: upgrade dangan here to the source site's "
        "release, then import or transfer again",
        "数据包由更新版本的 dangan 生成：请将本站 dangan 升级到与转出地相同的版本后重新导入或转移",
    ),
    "TRANSFER_PACKAGE_INVALID": _REEXPORT,
    "TRANSFER_STATE": (
        "The transfer is no longer open (failed or finished): request a new transfer (`dangan transfer`), or "
        "export a new package for removable media",
        "该次转移已结束（失败或完成）：请重新发起转移，或为移动介质重新导出数据包",
    ),
}
_BAGIT = _REEXPORT  # BAGIT_<detail> codes from the bagit library's validator


def hint_for(code: str, fallback: str | None = None) -> tuple[str | None, str | None]:
    """``(hint, hint_zh)`` for a problem code; the error's own hint (English only) when the code is unknown."""
    if code in HINTS:
        return HINTS[code]
    if code.startswith("BAGIT_"):
        return _BAGIT
    return fallback, None


#: One problem as operators get it: ``{file, property, code, message, hint, hint_zh}`` (all text, masked).
ProblemEntry = dict[str, str | None]


def problem(
    code: str, file: str | None, message: str, *, prop: str | None = None, fallback_hint: str | None = None
) -> ProblemEntry:
    """One masked problem entry."""
    hint, hint_zh = hint_for(code, fallback_hint)
    return {
        "file": scrub(file) if file else None,
        "property": prop,
        "code": code,
        "message": scrub(message),
        "hint": hint,
        "hint_zh": hint_zh,
    }


def problems_of(error: Mapping[str, object]) -> list[ProblemEntry]:
    """Problems of a refusal from its error dict (``DanganError.to_dict()``, as stored on ``transfer.failed``).

    Errors carrying a ``problems`` list (verification, bag refusal) give one entry per finding; any other
    error is one entry itself, naming the object it concerns when it has one.
    """
    code = str(error.get("code") or "TRANSFER_FAILED")
    details = _mapping(error.get("details"))
    fallback = _text(error.get("hint"))
    found = details.get("problems")
    if isinstance(found, list) and found:
        return [
            problem(
                str(p.get("code")),
                _text(p.get("file")),
                str(p.get("message") or ""),
                prop=_text(p.get("property")),
                fallback_hint=fallback,
            )
            for p in map(_mapping, found[:MAX_PROBLEMS])
        ]
    file = details.get("key") or details.get("file") or details.get("path")
    message = str(error.get("message") or "")
    return [problem(code, str(file) if file else None, message, fallback_hint=fallback)]


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def markdown_table(problems: Sequence[Mapping[str, object]]) -> list[str]:
    """Lines of a markdown table (artifacts); empty when there is nothing to show."""
    if not problems:
        return []

    def cell(value: object) -> str:
        return str(value or "").replace("|", "\\|").replace("\n", " ")

    lines = ["| file | property | code | message | what to do | 怎么办 |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {cell(p['file'])} | {cell(p['property'])} | `{p['code']}` | {cell(p['message'])} | {cell(p['hint'])} "
        f"| {cell(p.get('hint_zh'))} |"
        for p in problems
    ]
    return lines


def accept_ocr_siblings(report: VerifyReport, reader: bag.BagReader) -> None:
    """Count each OCR result's hOCR object (``hocr_path`` in ocr.json) as catalogued, and require it in the bag.

    ``checks.check_catalog`` knows only an OCR row's JSON ``path``; without this the hOCR objects a package now
    carries would be refused as ``NOT_CATALOGUED``, and a bag missing one would commit rows whose hOCR the
    receiver's fixity audit cannot find.
    """
    ocr = report.package.ocr if report.package is not None else []
    siblings = {o.hocr_path for o in ocr if o.hocr_path}
    if not siblings:
        return
    report.problems = [p for p in report.problems if not (p.code == "NOT_CATALOGUED" and p.file in siblings)]
    manifest, _ = bag.parse_manifest(reader.read_tag(f"manifest-{bag.PRIMARY}.txt") or b"")
    for path in sorted(siblings - set(manifest)):
        report.problems.append(Problem(INTEGRITY, "NOT_IN_PACKAGE", path, "catalogued but missing from the manifest"))
