"""PP-OCR model files: locate them (bundled in the ``rapidocr`` wheel or a ``model_dir``), hash and pin them.

Nothing here downloads: a missing file is an ``OcrEngineUnavailable`` error naming what was looked for.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from dangan.errors import ConfigError, OcrEngineUnavailable, OcrModelChecksumMismatch

# SHA-256 of the model files in the rapidocr wheel that pyproject.toml pins (rapidocr 3.10.0). When the bundled
# models are used and ``ocr.expected_model_sha256`` is not set, these are checked: a damaged installation, or a
# rapidocr upgrade that brings different models, refuses to load instead of reading the archive differently.
BUNDLED_SHA256 = {
    "PP-OCRv6_det_small.onnx": "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    "PP-OCRv6_rec_small.onnx": "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    "ch_ppocr_mobile_v2.0_cls_mobile.onnx": "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}
_BUNDLED_HINT = (
    "The models inside the installed rapidocr package are not the ones dangan was validated with. Reinstall it "
    "(pip install --force-reinstall 'rapidocr==3.10.0'), or set `ocr.model_dir` and `ocr.expected_model_sha256` "
    "to models you have validated."
)
_hash_lock = threading.Lock()
_hash_cache: dict[tuple[str, int, int], str] = {}


def bundled_model_dir() -> Path:
    """The ``models/`` folder inside the installed ``rapidocr`` package (not imported, only located)."""
    spec = find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise OcrEngineUnavailable(
            "the rapidocr package is not installed, so no bundled PP-OCR models",
            hint="Install the project dependencies, or set `ocr.model_dir` to a folder with det/rec ONNX files.",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sha256_file(path: Path) -> str:
    """SHA-256 of ``path``, cached by (resolved path, mtime, size) so engines restart cheaply."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with resolved.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


@dataclass(frozen=True)
class ModelFiles:
    """The det/rec (and optional cls, dict) files one PP-OCR engine loads."""

    det: Path
    rec: Path
    cls: Path | None = None
    keys: Path | None = None
    bundled: bool = False  # found in the rapidocr wheel (checked against BUNDLED_SHA256 unless pinned otherwise)

    def paths(self) -> list[Path]:
        """All files that exist in this set."""
        return [p for p in (self.det, self.rec, self.cls, self.keys) if p is not None]

    def family(self) -> str:
        """Human model family, e.g. ``PP-OCRv6_small`` from ``PP-OCRv6_det_small.onnx``."""
        det = self.det.stem.replace("_det", "").replace("det_", "")
        rec = self.rec.stem.replace("_rec", "").replace("rec_", "")
        return det if det == rec else f"{self.det.stem}+{self.rec.stem}"


def _one(folder: Path, pattern: str, required: bool) -> Path | None:
    found = sorted(p for p in folder.glob(pattern) if p.is_file())
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ConfigError(f"several {pattern} model files in {folder}: {names}; keep exactly one")
    if not found:
        if required:
            raise OcrEngineUnavailable(
                f"no {pattern} model file in {folder}",
                hint="Point `ocr.model_dir` at a folder with one *det*.onnx and one *rec*.onnx file.",
            )
        return None
    return found[0]


def find_model_files(model_dir: Path | None = None) -> ModelFiles:
    """Locate det/rec/cls ONNX files (and a ``*.txt`` character list, if any) in ``model_dir`` or the wheel."""
    folder = Path(model_dir) if model_dir is not None else bundled_model_dir()
    if not folder.is_dir():
        raise OcrEngineUnavailable(f"OCR model folder {folder} does not exist")
    det = _one(folder, "*det*.onnx", required=True)
    rec = _one(folder, "*rec*.onnx", required=True)
    assert det is not None and rec is not None
    return ModelFiles(
        det=det,
        rec=rec,
        cls=_one(folder, "*cls*.onnx", required=False),
        keys=_one(folder, "*.txt", required=False),
        bundled=model_dir is None,
    )


def verify_checksums(files: ModelFiles, expected: Mapping[str, str] | None = None) -> dict[str, str]:
    """Hash every model file; raise ``OcrModelChecksumMismatch`` if one differs from its pinned digest
    (``expected``, else :data:`BUNDLED_SHA256` for the bundled files)."""
    digests = {p.name: sha256_file(p) for p in files.paths()}
    hint = None
    if expected is None and files.bundled:
        expected = {name: want for name, want in BUNDLED_SHA256.items() if name in digests}
        hint = _BUNDLED_HINT
        unpinned = [p.name for p in (files.det, files.rec, files.cls) if p is not None and p.name not in expected]
        if unpinned:  # e.g. an upgrade renamed the models: unknown files must not load unchecked
            raise OcrModelChecksumMismatch(
                f"the rapidocr package ships model files dangan has no digest for: {', '.join(unpinned)}",
                files=unpinned,
                hint=hint,
            )
    for name, want in (expected or {}).items():
        found = digests.get(name)
        if found is None:
            raise ConfigError(
                f"expected_model_sha256 pins {name!r}, which is not among the model files "
                f"({', '.join(sorted(digests))})"
            )
        if found != want.lower():
            raise OcrModelChecksumMismatch(
                f"model file {name} has SHA-256 {found[:12]}…, expected {want[:12]}…",
                file=name,
                expected=want.lower(),
                found=found,
                hint=hint,
            )
    return digests


def model_identity(files: ModelFiles, digests: Mapping[str, str]) -> str:
    """``"<family> det+rec@<sha12>"``: the 12-hex prefix hashes all file digests together."""
    combined = hashlib.sha256("\n".join(f"{name}:{digests[name]}" for name in sorted(digests)).encode()).hexdigest()
    parts = "det+rec+cls" if files.cls is not None else "det+rec"
    return f"{files.family()} {parts}@{combined[:12]}"
