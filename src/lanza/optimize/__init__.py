"""``lanza optimize``: a registered model converted to ONNX, checked, timed and registered."""
