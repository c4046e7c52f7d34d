"""Training StyleCam styles: CycleGAN on two unpaired image folders, distillation into the lite
generator, offline evaluation and export into the app's style library.

Entry points: `python -m train`, `python -m train.distill`, `python -m train.evaluate`,
`python -m train.export`. Shares `models/` with the app; never imports PySide6 or `app`.
"""
