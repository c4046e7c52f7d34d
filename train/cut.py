"""`python -m train.cut`, the command the README names: it runs train/trainers/cut.py,
where the code lives (import from there)."""

from train.trainers.cut import main

if __name__ == "__main__":
    raise SystemExit(main())
