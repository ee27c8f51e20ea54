"""The OCR engine library: one contract (``base``), a registry of engines by name, and the engines themselves.

Nothing here knows about the catalog or the object store: an engine takes numpy page images and gives back
``PageResult``s. ``ppocr`` (our det → cls → rec pipeline on onnxruntime, or torch in ``gpu/``), ``paddle``
(PaddleOCR's own pipeline), ``tesseract``, and the test engines ``null`` and ``fault`` (``testing``).
A new engine: a module with a class implementing ``base.OcrEngine`` whose constructor takes its options model
(a subclass of ``options.EngineOptions``, read from ``[ocr.<name>]``), and a ``register_engine(name, factory,
options=Model)`` call (or an entry in ``registry._BUILTIN``).
"""
