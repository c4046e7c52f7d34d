"""`python -m train.colour_guard`, the command the README names: it runs train/stages/colour_guard.py,
where the code lives (import from there)."""

from train.stages.colour_guard import main

if __name__ == "__main__":
    raise SystemExit(main())
