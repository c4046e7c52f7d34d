"""`python -m train ...`: train a CycleGAN style (train/trainers/cyclegan.py), or with `--recipe NAME`
replay a style's whole recipe, stage by stage (train/recipe.py, train/recipes/)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(arg == "--recipe" or arg.startswith("--recipe=") for arg in argv):
        from train.recipe import main as recipe_main

        return recipe_main(argv)
    from train.trainers.cyclegan import main as train_main

    return train_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
