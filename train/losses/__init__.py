"""The loss terms: the adversarial losses (adversarial.py), the image priors a config weights
(image_priors.py, registered by name in priors.py), the webcam terms (webcam_losses.py),
PatchNCE (patch_nce.py), the droplet penalty (spike_penalty.py) and the grid-pattern penalty
(stride_pattern.py).
"""
