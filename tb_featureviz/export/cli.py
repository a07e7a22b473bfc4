"""``featureviz export``: arguments and the command.

The ``featureviz`` console script (``tb_featureviz.cli``) adds these arguments to its ``export``
sub-command; ``python -m tb_featureviz.export.cli`` runs the command on its own. argparse only turns the
text into values (numbers, a flag); :func:`run_export` makes them one ``ExportOptions``, which checks them
once, and hands it to ``tb_featureviz.export.api.write_export``.

Example:
    featureviz export --logdir runs --run exp1 --run exp2 --epochs 0,10,29 --format html --out report.html
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from tb_featureviz.export.content import DETAILS, EXPORT_KINDS, FORMATS
from tb_featureviz.export.errors import ExportArgumentError, public_message
from tb_featureviz.export.options import MAX_SCALE, ExportOptions
from tb_featureviz.reader.integrity import clip
from tb_featureviz.render import COLORMAPS

PROG = "featureviz export"

EXIT_DAMAGED = 3
"""Exit status when the export was written but damaged images were left out of it."""


def _whole_number(text: str) -> int:
    """argparse ``type``: the text as an int (its range is ``ExportOptions``' to check)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def export_options(args: argparse.Namespace) -> ExportOptions:
    """The options of parsed ``featureviz export`` arguments, checked.

    Raises:
        ExportArgumentError: a bad value; the message names it.
    """
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(ExportOptions) if f.name != "runs"}
    pairs = []
    for item in settings.get("run_layers") or ():
        run, sep, layer = str(item).rpartition("=")
        if not sep or not run or not layer:
            raise ExportArgumentError(f"--run-layer takes RUN=LAYER. Received: {clip(str(item))}")
        pairs.append((run, layer))
    settings["run_layers"] = tuple(pairs)
    return ExportOptions.parse(args.runs, **settings)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``featureviz export`` options to ``parser``.

    Args:
        parser: The (sub-)parser of the ``export`` command.
    """
    parser.description = (
        "Export featureviz summaries as a summary-first report (self-contained HTML or vector PDF, or its "
        "figures as 300 dpi PNG or SVG files), the full report of every epoch and layer (--detail full), "
        "animated GIFs across epochs, or a ZIP of the raw PNGs with a manifest."
    )
    parser.add_argument("--logdir", required=True, help="TensorBoard log directory")
    parser.add_argument(
        "--run",
        dest="runs",
        action="append",
        required=True,
        metavar="NAME",
        help="run to export (repeat for several runs, shown side by side in HTML)",
    )
    parser.add_argument(
        "--epochs",
        default=None,
        help="'last', 'all', or epochs such as 0,10,29 or 0-9 (a range keeps the epochs written inside it; a "
        "named epoch must exist); default: all for a summary (its filmstrips show at most six), last for "
        "--detail full",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(EXPORT_KINDS),
        help=f"comma-separated kinds (default: {','.join(EXPORT_KINDS)})",
    )
    parser.add_argument("--layers", default=None, help="comma-separated layer names (default: all)")
    parser.add_argument(
        "--stage",
        default=None,
        metavar="K/N",
        help="align runs of different architectures by stage: each run's own layer for stage K of an N-stage "
        "run (its Grad-CAM layer for gradcam), e.g. 3/5; instead of --layers",
    )
    parser.add_argument(
        "--run-layer",
        dest="run_layers",
        action="append",
        default=[],
        metavar="RUN=LAYER",
        help="export LAYER for run RUN in the kinds it has, whatever --layers/--stage say; its other kinds follow "
        "them (repeat per run)",
    )
    parser.add_argument("--format", default="html", help=f"output format: {', '.join(FORMATS)} (default: html)")
    parser.add_argument(
        "--detail",
        default=None,
        choices=DETAILS,
        help="summary (default for html, pdf, png, svg): the curves, checks, final epoch and filmstrips as "
        "numbered figures; full (default for gif, zip): every exported epoch of every layer as stored",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="output file (html, pdf, zip; or one .png/.svg/.gif) or directory (png, svg, gif)",
    )
    parser.add_argument(
        "--colormap",
        default=None,
        help=f"colour map of activation grids and heatmaps: {', '.join(COLORMAPS)} (default viridis; "
        "Grad-CAM overlays keep their colours unless given)",
    )
    parser.add_argument(
        "--scale",
        type=_whole_number,
        default=1,
        help=f"integer enlargement of png/gif images, 1 to {MAX_SCALE} (nearest neighbour)",
    )
    parser.add_argument(
        "--no-caption", dest="caption", action="store_false", help="no caption strip under png images / html figures"
    )
    parser.add_argument(
        "--channel",
        type=_whole_number,
        default=None,
        metavar="K",
        help="only channel K of activation grids (reduced grids too) / filter K of filter grids (epochs "
        "whose rotation did not draw it are left out)",
    )
    parser.add_argument(
        "--probe", type=_whole_number, default=None, metavar="I", help="only probe image I (default: all)"
    )
    parser.add_argument(
        "--load-fast",
        action="store_true",
        help="read with TensorBoard's Rust data server instead of the Python reader",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no final line")


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def run_export(args: argparse.Namespace) -> int:
    """Runs ``featureviz export`` with parsed arguments.

    Writes a progress bar to stderr when it is a terminal, and one final line on stdout naming what was
    written. A bad argument (an epoch range past the bounds too), an unknown run/epoch/layer or an
    unwritable output prints one line on stderr (``featureviz export: error: ...``) and returns 2. Stored
    images whose bytes are damaged are left out of what is written; a warning on stderr names them and
    the exit code is :data:`EXIT_DAMAGED`.

    Args:
        args: Parsed arguments (``add_export_arguments``).

    Returns:
        The exit code: 0 on success, 2 on a usage or data error, 3 when damaged images were left out.
    """
    from tensorboard import errors as tb_errors

    from tb_featureviz.export.api import write_export
    from tb_featureviz.export.progress import ProgressBar

    bar = ProgressBar(enabled=False) if args.quiet else ProgressBar()
    try:
        result = write_export(args.logdir, args.out, export_options(args), progress=bar, load_fast=args.load_fast)
    except (tb_errors.PublicError, ValueError, LookupError, OSError) as e:
        bar.close()
        print(f"{PROG}: error: {public_message(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130
    bar.close()
    path, damaged = result.path, result.damaged
    if not args.quiet:
        if path.is_dir():
            size = _human_size(sum(p.stat().st_size for p in result.files))
            print(f"featureviz: wrote {len(result.files)} {args.format.upper()} file(s) to {path} ({size})")
        else:
            print(f"featureviz: wrote {path} ({_human_size(path.stat().st_size)})")
    if damaged:
        listed = "; ".join(d.describe() for d in damaged[:5]) + (
            f"; ... ({len(damaged)} in all)" if len(damaged) > 5 else ""
        )
        print(
            f"{PROG}: warning: left out {len(damaged)} damaged image(s) (their bytes in the event files do not "
            f"decode): {listed}",
            file=sys.stderr,
        )
        return EXIT_DAMAGED
    return 0


def use_tensorboard_stub(logdir: str) -> bool:
    """Makes TensorBoard's file access use its own TF-free stub instead of importing TensorFlow.

    TensorBoard's Python loader reads files through ``tensorboard.compat.tf``, which imports TensorFlow
    when it is installed (seconds of start-up and log noise on stderr) unless the marker module
    ``tensorboard.compat.notf`` exists. For a local logdir the stub reads the same files, so a command
    process calls this before reading. It changes process-wide state: call it from entry points only,
    never from library code. (Once TensorBoard has resolved ``tensorboard.compat.tf`` it has no
    effect.)

    Args:
        logdir: The logdir to be read; URLs (``gs://``, ``s3://``...) keep TensorFlow's file systems.

    Returns:
        True if the stub will be used.
    """
    import types

    if "://" in logdir or "tensorflow" in sys.modules:
        return False
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tb_featureviz.export.cli``: the export command on its own."""
    parser = argparse.ArgumentParser(prog=PROG)
    add_export_arguments(parser)
    args = parser.parse_args(argv)
    use_tensorboard_stub(args.logdir)
    return run_export(args)


if __name__ == "__main__":
    sys.exit(main())
