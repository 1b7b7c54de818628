"""Pre-trained detectors on onnxruntime and the change-detection cascade in front of them."""
