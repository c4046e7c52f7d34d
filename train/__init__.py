"""Training StyleCam styles: CycleGAN on two unpaired image folders, distillation into the lite
generator (and the webcam fine-tune of a finished style), offline evaluation and export into the
app's style library. Each shipped style's whole recipe is a file in train/recipes/.

Four folders, bottom up: `losses/` (the loss terms and priors), `trainers/` (CycleGAN, CUT,
distillation and the run loop they share), `evaluation/` (figures and metrics), `stages/` (what
comes after training: palette map, colour guard, averaging, export). `recipe.py` replays a
recipe; `evaluate.py`, `cut.py`, `palette.py`, `colour_guard.py` and `distill.py` only keep the
commands by their names (each runs its module's `main`).

Entry points: `python -m train` (`--recipe NAME` replays a recipe), `python -m train.cut`,
`python -m train.distill`, `python -m train.evaluate`, `python -m train.palette`,
`python -m train.colour_guard`, `python -m train.stages.export`, `python -m train.stages.average`,
`python -m train.trainers.checkpoint`. Shares `models/` with the app; never imports PySide6 or
`app`.
"""
