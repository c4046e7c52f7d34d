"""StyleCam: real-time webcam style transfer.

python main.py                      open the app (live stylized camera)
python main.py stylize IN OUT --style NAME_OR_FILE
python main.py styles               list the style library
python main.py import-style FILE --name NAME
python main.py remove-style NAME
python main.py bench                measure generators and the engine on this machine
python main.py make-style PAINTINGS --name NAME --photos DIR_OR_VIDEO   train your own style
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TextIO

from models.errors import StyleCamError
from models.precision import PRECISIONS

DETAIL_HELP = "camera edges kept when the picture is brought to full size: 0 plain resize .. 1 every edge"
FACES_HELP = "face-aware detail: faces get more detail than the scene (on by default)"
PRECISION_HELP = (
    "CPU precision: auto = bf16 where the CPU has AVX512-BF16 or AMX, else fp32; int8 = opt-in, faster on CPUs with"
    " int8 instructions (VNNI, AMX), a little less faithful (CUDA runs fp16)"
)


def app_size(text: str) -> int | str:
    """`--size` of the app: "auto" (fits the machine, the default) or a short side in pixels."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not 'auto' or a whole number of pixels") from None


def program_name(argv0: str | None = None) -> str:
    """The program as the user typed it, for --help: `stylecam` (the installed command, also as
    stylecam.exe), else `main.py` (run from the source tree)."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    return "stylecam" if name.lower().removesuffix(".exe") == "stylecam" else "main.py"


def plain_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """`warnings.showwarning` for users: one plain line, not Python's two with a source line."""
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=program_name(), description="StyleCam: real-time webcam style transfer.")
    parser.add_argument("--source", help="camera index, video/image file, or 'demo' (overrides saved settings)")
    parser.add_argument("--style", help="style name or weights file (overrides saved settings)")
    parser.add_argument(
        "--size",
        type=app_size,
        help="processing size: auto (the largest that holds the frame rate here), a short side in pixels, 0 = native",
    )
    parser.add_argument("--precision", default="auto", choices=list(PRECISIONS), help=PRECISION_HELP)
    parser.add_argument("--detail", type=float, help=DETAIL_HELP + " (D / Shift+D in the app)")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, help=FACES_HELP + " (F in the app)")
    parser.add_argument(
        "--model",
        choices=["auto", "full", "fast"],
        help="each style's full model, its fast twin (about 3x less compute), or auto: the twin where the full "
        "model cannot hold 360 px at the source's frame rate (the default; View > Model in the app)",
    )
    parser.add_argument("--record", type=Path, help="start recording to this .mp4 file at once")
    parser.add_argument(
        "--no-stabilize", action="store_true", help="turn the temporal stabilizer off for this run (T in the app)"
    )
    parser.add_argument(
        "--virtual-camera", action="store_true", help="offer the stylized picture as a system camera (V in the app)"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sub = parser.add_subparsers(dest="command")

    stylize = sub.add_parser("stylize", help="stylize an image or a video file")
    stylize.add_argument("input", type=Path)
    stylize.add_argument("output", type=Path)
    stylize.add_argument("--style", help="style name or weights file (default: the library's default)")
    stylize.add_argument("--size", type=int, default=512, help="processing size: short side 32..4096, 0 = native")
    stylize.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    stylize.add_argument("--strength", type=float, default=1.0, help="blend with the input, 0..1")
    stylize.add_argument("--detail", type=float, help=DETAIL_HELP + " (default: the app's)")
    stylize.add_argument("--faces", action=argparse.BooleanOptionalAction, help=FACES_HELP)
    stylize.add_argument("--precision", default="auto", choices=list(PRECISIONS), help=PRECISION_HELP)
    stylize.add_argument(
        "--model",
        default="full",
        choices=["full", "fast"],
        help="the style's full model, or its fast twin (3x cheaper)",
    )
    stylize.add_argument(
        "--no-stabilize", action="store_true", help="videos: each frame on its own, without the temporal stabilizer"
    )

    styles = sub.add_parser("styles", help="list the style library")
    styles.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    imp = sub.add_parser("import-style", help="add a weights file (ours or a reference CycleGAN .pth) to the library")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", required=True)
    imp.add_argument("--display-name")
    imp.add_argument("--default", action="store_true", help="make it the default style")

    remove = sub.add_parser("remove-style", help="delete a style from the library (its entry and weights file)")
    remove.add_argument("name")

    sub.add_parser(
        "bench", help="measure generators and the engine on this machine (see `bench --help`)", add_help=False
    )
    sub.add_parser(
        "make-style",
        help="make your own style from a folder of paintings, in a time budget (see `make-style --help`)",
        add_help=False,
    )
    return parser


def cmd_stylize(args: argparse.Namespace) -> int:
    from models.stylize import IMAGE_SUFFIXES, check_detail, check_job, check_size, stylize_file

    # arguments first, one line each, before torch is imported or a style compiled
    check_size(args.size)
    check_detail(args.detail)
    if not 0.0 <= args.strength <= 1.0:
        raise StyleCamError(f"--strength {args.strength} is out of range; use a value from 0 to 1")
    check_job(args.input, args.output)
    from models.detail import DEFAULT_DETAIL, DEFAULT_FACES
    from models.engine import InferenceEngine
    from models.style_library import StyleLibrary

    library = StyleLibrary()
    name = args.style or library.default_style_name()
    if name is None:
        raise StyleCamError("the style library is empty; pass --style path/to/weights (.safetensors or .pth)")
    style = library.resolve(name)
    if args.model == "fast":
        twin = library.fast_twin_style(style)
        if twin is None:
            raise StyleCamError(f"style {style.name!r} has no fast twin; use --model full")
        style = twin
    generator, style = library.load(style)
    video = args.input.suffix.lower() not in IMAGE_SUFFIXES
    stabilize = video and not args.no_stabilize  # a video's strokes stay still where its scene is
    engine = InferenceEngine(
        device=args.device,
        size=args.size or None,
        strength=args.strength,
        stabilize=stabilize,
        precision=args.precision,
        detail=DEFAULT_DETAIL if args.detail is None else args.detail,
        faces=DEFAULT_FACES if args.faces is None else args.faces,
    )
    engine.set_style(generator, style.name)
    if engine.precision_notice:  # after set_style: the style may be what keeps it fp32
        print(f"warning: {engine.precision_notice}", file=sys.stderr)
    at = f"at size {args.size or 'native'}, detail {engine.detail:g}{' with faces' if engine.faces else ''}"
    at += f", {'' if stabilize else 'not '}stabilized" if video else ""
    model = " (fast model)" if args.model == "fast" else ""
    print(f"stylizing {args.input} with {style.display_name}{model} on {engine.describe()} {at}")
    frames = stylize_file(args.input, args.output, engine, warn=lambda line: print(f"warning: {line}", file=sys.stderr))
    print(f"wrote {args.output} ({frames} frame{'s' if frames != 1 else ''})")
    return 0


def cmd_styles(args: argparse.Namespace) -> int:
    from models.engine import InferenceEngine
    from models.style_library import StyleLibrary

    library = StyleLibrary()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        styles = library.list_styles()
        default = library.default_style_name()
    for message in dict.fromkeys(str(w.message) for w in caught):  # each problem once, one line
        print(f"warning: {message}", file=sys.stderr)
    device = InferenceEngine(device=args.device).describe()  # no model loaded: only the choice
    if not styles:
        print(f"no styles ({library.describe()}); add one with `python main.py import-style FILE --name NAME`")
        return 0
    # columns as wide as their longest entry, so long names and architectures stay aligned
    name_w = max(15, *(len(s.name) for s in styles))
    shown_w = max(20, *(len(s.display_name) for s in styles))
    arch_w = max(28, *(len(s.config.describe()) for s in styles))
    device_col = f"{'device':<{len(device)}}  library" if library.layered else "device"
    print(f"{'name':<{name_w + 1}} {'display name':<{shown_w}} {'architecture':<{arch_w}} {'size':>9}  {device_col}")
    for s in styles:
        mark = "*" if s.name == default else " "
        print(
            f"{mark}{s.name:<{name_w}} {s.display_name:<{shown_w}} {s.config.describe():<{arch_w}}"
            f" {s.size_bytes() / 1e6:>7.2f}MB  {device}" + (f"  ({s.where()})" if s.origin else "")
        )
    print(f"(* default; {library.describe()})")
    return 0


def cmd_import_style(args: argparse.Namespace) -> int:
    from models.style_library import StyleLibrary

    style = StyleLibrary().import_style(args.file, args.name, args.display_name, make_default=args.default)
    shadows = "; it shadows the shipped style of that name" if style.shadows_shipped else ""
    print(f"imported {args.file} as style {style.name!r} ({style.config.describe()}) -> {style.path}{shadows}")
    return 0


def cmd_remove_style(args: argparse.Namespace) -> int:
    from models.style_library import StyleLibrary

    library = StyleLibrary()
    library.remove_style(args.name)
    back = "; the shipped style of that name shows again" if args.name in library.names() else ""
    print(f"removed style {args.name!r} from {library.root}{back} (default now: {library.default_style_name()})")
    return 0


def cmd_bench(argv: list[str]) -> int:
    """`python main.py bench ...` is `python -m benchmarks.bench ...`: the benchmarks are a tool
    that measures the app, not part of it, so main.py runs that module as a program (runpy, in
    this process) instead of importing it; nothing the app or the CLI imports reaches benchmarks/
    (tests/test_layering.py checks the import graph)."""
    import runpy

    saved = sys.argv
    sys.argv = [f"{program_name()} bench", *argv]
    try:
        # alter_sys=False: argv[0] stays the command typed, which names the program in its --help
        runpy.run_module("benchmarks.bench", run_name="__main__", alter_sys=False)
    except SystemExit as done:  # its `raise SystemExit(main())`, or argparse's exit
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    finally:
        sys.argv = saved
    return 0


def cmd_make_style(argv: list[str]) -> int:
    """`python main.py make-style ...` is train.make_style's command (its options are its own, and
    torch is imported only when it runs)."""
    from train.make_style import main as make_style_main

    return make_style_main(argv, prog=f"{program_name()} make-style")


def cmd_gui(args: argparse.Namespace) -> int:
    from app.launch import run_app

    return run_app(args)


COMMANDS = {
    "stylize": cmd_stylize,
    "styles": cmd_styles,
    "import-style": cmd_import_style,
    "remove-style": cmd_remove_style,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.showwarning = plain_warning
    if argv[:1] == ["bench"]:  # the benchmark owns its options
        return cmd_bench(argv[1:])
    if argv[:1] == ["make-style"]:  # so does make-style
        return cmd_make_style(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS.get(args.command, cmd_gui)(args)
    except StyleCamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
