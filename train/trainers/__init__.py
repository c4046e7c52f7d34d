"""The trainers and their run loop: CycleGAN (cyclegan.py), CUT / FastCUT (cut.py) and
distillation or the webcam fine-tune (distill.py), the loop they share (loop.py), their typed
configs (config.py), and what a run is made of: data, image pool, EMA, checkpoints, processes,
progress files.
"""
