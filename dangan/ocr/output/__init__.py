"""OCR outputs for people and other tools: hOCR and the double-layer (searchable) PDF/A (``render``, ``pdfa``)."""
