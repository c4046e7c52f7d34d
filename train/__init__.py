"""Training StyleCam styles: CycleGAN on two unpaired image folders, distillation into the lite
generator (and the webcam fine-tune of a finished style), offline evaluation and export into the
app's style library. Each shipped style's whole recipe is a file in train/recipes/.

Entry points: `python -m train` (`--recipe NAME` replays a recipe), `python -m train.distill`,
`python -m train.evaluate`, `python -m train.export`. Shares `models/` with the app; never imports
PySide6 or `app`.
"""
