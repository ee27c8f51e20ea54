"""Manual check: ``python -m dangan.ocr [--engine NAME] [--device D] [--json] FILE...`` prints each page's text."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from PIL import Image

from dangan.ocr.engines.options import OcrOptions
from dangan.ocr.engines.registry import available_engines, create_engine


def main(argv: list[str] | None = None) -> int:
    """Run OCR on image files and print text (or JSON results); returns 1 if any page failed."""
    parser = argparse.ArgumentParser(prog="python -m dangan.ocr", description=__doc__)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--engine", default="ppocr", choices=available_engines())
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", action="store_true", help="print PageResult JSON instead of text")
    args = parser.parse_args(argv)
    engine = create_engine(OcrOptions(engine=args.engine, device=args.device))
    print(json.dumps(engine.identity().as_dict(), ensure_ascii=False), file=sys.stderr)
    failed = 0
    for path in args.files:
        image: np.ndarray | None
        try:
            with Image.open(path) as im:
                image = np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as exc:  # unreadable file: report it like an unusable page
            print(f"{path}: cannot read image: {exc}", file=sys.stderr)
            image = None
        result = engine.recognize([image])[0]
        failed += result.error is not None
        if args.json:
            print(json.dumps({"file": path, **result.to_json()}, ensure_ascii=False))
        else:
            print(f"== {path} ({result.seconds:.2f}s{', ' + result.error if result.error else ''})")
            print(result.text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
