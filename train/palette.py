"""`python -m train.palette`, the command the README names: it runs train/stages/palette.py,
where the code lives (import from there)."""

from train.stages.palette import main

if __name__ == "__main__":
    raise SystemExit(main())
