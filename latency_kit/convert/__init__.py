"""Model conversion: a search space's network or block to ONNX (:mod:`.onnx`) and
TFLite (:mod:`.tflite`), cached by content. Depends on :mod:`latency_kit.spaces` only."""
