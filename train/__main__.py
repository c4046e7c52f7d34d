"""`python -m train ...`: train a CycleGAN style (see `train.trainer`)."""

from train.trainer import main

if __name__ == "__main__":
    raise SystemExit(main())
