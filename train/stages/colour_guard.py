"""`python -m train.colour_guard STYLE --block 8`: switch the colour guard on (or off, with
`--block 0`) for a style already in the library, without retraining.

The guard has no weights (models/colour_guard.py), so this rewrites the style's safetensors file
with the same tensors and the new architecture, and its manifest entry (checksum, architecture,
and a note in its training provenance). A shipped style is never edited: the switched style is
written to the user library, where it shadows the shipped one (`remove-style NAME` undoes it). Measure first: `python -m train.evaluate --style STYLE
--colour-guard 8 --photos DIR --style-images DIR`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from models.colour_guard import set_colour_guard
from models.errors import StyleCamError
from models.style_library import Style, StyleLibrary


def set_style_colour_guard(library: StyleLibrary, name: str, block: int) -> Style:
    """Re-save library style `name` with its colour guard at `block` pixels (0 = off), into the
    library's writable folder (a shipped style gets a user copy that shadows it); a bad block is
    refused (models/colour_guard.py) before anything is written."""
    model, style = library.load(name)
    config = replace(style.config, colour_guard=block)
    training = {**style.training, "colour_guard": f"block {block} px" if block else "off"}
    default = library.default_style_name() == name
    twin = library.fast_twin_style(style)
    twin_model = library.load(twin)[0] if twin else None  # read before add_style replaces the entry
    saved = library.add_style(
        set_colour_guard(model, block), config, name, style.display_name, training, style.evaluation, default
    )
    if twin_model is None:
        return saved
    # the guard is a step after the generator: the fast twin distilled from it stays its twin
    library.add_fast_twin(name, twin_model, twin.config, twin.training, twin.evaluation)
    return library.resolve(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.colour_guard", description=__doc__.splitlines()[0])
    parser.add_argument("style", help="library style name")
    parser.add_argument(
        "--block", type=int, required=True, help="block size in pixels at the generator's input (0 = off)"
    )
    parser.add_argument("--library", help="style library folder (default: $STYLECAM_WEIGHTS, else your user library)")
    args = parser.parse_args(argv)
    try:
        style = set_style_colour_guard(StyleLibrary(args.library), args.style, args.block)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    note = ", your copy shadows the shipped style" if style.shadows_shipped else ""
    print(f"{style.name}: {style.config.describe()} ({style.path}{note})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
