"""`python -m train.distill`, the command the README names: it runs train/trainers/distill.py,
where the code lives (import from there)."""

from train.trainers.distill import main

if __name__ == "__main__":
    raise SystemExit(main())
