"""The torch path of the ``ppocr`` engine: PP-OCR ONNX models converted with onnx2torch, run batched and
pipelined on CUDA (fp16) or, as fallback and in CI, on CPU tensors (fp32).

Modules: ``convert`` (graph fixes + conversion cache), ``device`` (CUDA probe and fallback), ``models``
(load, verify, smoke-run), ``infer`` (batched det/rec on the device), ``engine`` (``TorchPpOcrEngine``).
Nothing here is imported unless the torch backend is selected (``dangan.ocr.engines.backends``).
"""
