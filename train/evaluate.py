"""`python -m train.evaluate`, the command the README names: it runs train/evaluation/evaluate.py,
where the code lives (import from there)."""

from train.evaluation.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
