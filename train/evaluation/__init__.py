"""Judging a style offline: `python -m train.evaluate` (evaluate.py), the image-set metrics
(metrics.py), the webcam figures (webcam_metrics.py) and FID from local weights (fid.py).
"""
