"""The ``featureviz`` command: ``train``, ``demo``, ``watch``, ``export`` and ``make-data``.

``featureviz demo`` trains the reference CNN in a child process and serves TensorBoard with the
featureviz plugin on 127.0.0.1 in this one, so the page fills in epoch by epoch. Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO


def _add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logdir", default="runs", help="TensorBoard log directory (default: runs)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs to train (default: 10)")
    parser.add_argument("--port", type=int, default=6006, help="TensorBoard port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--load-fast", choices=("true", "false", "auto"), default="auto")
    parser.add_argument("--no-train", action="store_true", help="only serve the logdir, do not train")
    parser.add_argument(
        "--train-args",
        default="",
        help="extra flags for `featureviz train`, quoted, e.g. --train-args='--augment --train-images 400'",
    )


def start_tensorboard(logdir: str, *, host: str = "127.0.0.1", port: int = 0, load_fast: str = "auto") -> str:
    """Starts TensorBoard with every installed plugin (featureviz included) in this process.

    Returns:
        The URL it serves on.
    """
    from tensorboard import default, program

    tb = program.TensorBoard(plugins=default.get_plugins())
    tb.configure(argv=[None, "--logdir", logdir, "--host", host, "--port", str(port), f"--load_fast={load_fast}"])
    return str(tb.launch())


class _Tee:
    """Copies a child's stderr to ours line by line, keeping the last lines for a failure report."""

    def __init__(self, stream: IO[bytes], keep: int = 60) -> None:
        import collections
        import threading

        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._thread = threading.Thread(target=self._pump, args=(stream,), name="featureviz-demo-tee", daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        # Keeps draining whatever happens to our own stderr (closed, no .buffer under a notebook kernel, a
        # broken pipe): a child whose stderr pipe fills up blocks, and training would hang.
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.lines.append(line.rstrip("\n"))
            try:
                buffer = getattr(sys.stderr, "buffer", None)
                if buffer is not None:
                    buffer.write(raw)
                elif sys.stderr is not None:
                    sys.stderr.write(line)
                if sys.stderr is not None:
                    sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def text(self, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        return "\n".join(self.lines)


def _demo_run_name(train_args: list[str]) -> tuple[list[str], str | None]:
    """The train arguments with a ``--run`` name (one is chosen when absent), and that name."""
    from tb_featureviz.trainer.train import add_train_arguments, default_run_name

    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_train_arguments(parser)
    try:
        parsed, _ = parser.parse_known_args(train_args)
    except (argparse.ArgumentError, SystemExit):  # the child reports bad flags itself
        return train_args, None
    if parsed.run_name:
        return train_args, str(parsed.run_name)
    name = default_run_name(parsed.base, parsed.augment)
    return [*train_args, "--run", name], name


def _report_failure(logdir: str, run: str | None, code: int, tail: str) -> None:
    """Says why training stopped, on the terminal and (as a ``status`` record) in the run."""
    from tb_featureviz.status import failure_message, write_status

    message = failure_message(tail, code)
    print(f"featureviz demo: training failed: {message}", file=sys.stderr, flush=True)
    if run is None:
        return
    try:
        write_status(
            os.path.join(logdir, run), {"state": "failed", "message": message, "exit_code": code, "log_tail": tail}
        )
        print(f"featureviz demo: the FeatureViz tab shows this error in run {run!r}", file=sys.stderr, flush=True)
    except Exception as e:  # a read-only logdir, say: the terminal has it anyway
        print(f"featureviz demo: could not write the error into the run: {e}", file=sys.stderr, flush=True)


def run_demo(args: argparse.Namespace) -> int:
    """``featureviz demo``: background training plus a TensorBoard, until training ends and Ctrl-C.

    Training runs in a child process whose standard error is copied to ours; if it stops with an error,
    the cause is printed and written into the run as a ``status`` record that the dashboard shows.
    """
    import shlex

    os.makedirs(args.logdir, exist_ok=True)
    child: subprocess.Popen[bytes] | None = None
    tee: _Tee | None = None
    run: str | None = None
    if not args.no_train:
        train_args, run = _demo_run_name(shlex.split(args.train_args))
        cmd = [sys.executable, "-m", "tb_featureviz.cli", "train", "--logdir", args.logdir]
        cmd += ["--epochs", str(args.epochs), *train_args]
        child = subprocess.Popen(cmd, stderr=subprocess.PIPE)
        assert child.stderr is not None  # stderr=PIPE
        tee = _Tee(child.stderr)
    try:
        try:
            url = start_tensorboard(args.logdir, host=args.host, port=args.port, load_fast=args.load_fast)
        except Exception as e:  # a taken port, say: say so and stop the child
            print(f"featureviz demo: error: could not start TensorBoard: {e}", file=sys.stderr)
            return 2
        print(f"\nfeatureviz demo: TensorBoard at {url}#featureviz  (Ctrl-C stops training and the server)\n")
        sys.stdout.flush()
        announced = False
        while True:
            time.sleep(0.5)
            if child is not None and child.poll() is not None and not announced:
                code = child.returncode
                if code != 0 and tee is not None:
                    _report_failure(args.logdir, run, code, tee.text())
                status = "finished" if code == 0 else f"stopped with exit code {code}"
                print(f"featureviz demo: training {status}; still serving {url}#featureviz (Ctrl-C to quit)")
                sys.stdout.flush()
                announced = True
    except KeyboardInterrupt:
        print("\nfeatureviz demo: stopping.")
        return 0
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def run_make_data(args: argparse.Namespace) -> int:
    """``featureviz make-data DIR``: writes the synthetic set as JPEGs in the tutorial's folder layout."""
    from tb_featureviz.trainer.data import write_image_folder

    root = write_image_folder(args.dir, train=args.train, validation=args.validation, seed=args.seed)
    print(f"featureviz: wrote {args.train} train and {args.validation} validation images to {root}")
    return 0


def _add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint_dir", help="where ModelCheckpoint saves ckpt-{epoch:03d}.keras files")
    parser.add_argument("--logdir", required=True, help="the run directory (the callback's log_dir), e.g. runs/exp1")
    parser.add_argument("--probes", help="probe images: .npy [N, H, W, C] or .npz with images, labels, class_names")
    parser.add_argument("--once", action="store_true", help="process the checkpoints there now and exit")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between looks for new checkpoints")
    parser.add_argument("--class-names", help="comma-separated class names")
    # Unset options are the training callback's (recorded in the run), else the callback's defaults.
    parser.add_argument("--max-filters", type=int, default=None, help="filters per pass of a layer (default 128)")
    parser.add_argument("--filter-steps", type=int, default=None, help="gradient-ascent steps of filter patterns")
    parser.add_argument("--no-filters", action="store_true", help="no filter patterns")
    parser.add_argument("--max-grid-pixels", type=int, default=None, help="reduce grids past this many pixels")
    parser.add_argument(
        "--input-range",
        help="the model's input pixel range LOW,HIGH, e.g. 0,255 or --input-range=-1,1 (default: what the training "
        "callback recorded, else the model's Rescaling/Normalization layers, else the probes' range)",
    )
    parser.add_argument(
        "--preprocess", choices=("caffe", "tf", "torch"), help="keras.applications preprocessing done outside the model"
    )


def _pair(text: str | None, flag: str) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} takes LOW,HIGH, e.g. 0,255. Received: {text!r}") from None
    return lo, hi


def run_watch(args: argparse.Namespace) -> int:
    """``featureviz watch``: summaries from checkpoints, on this machine instead of the training one."""
    import logging

    from tb_featureviz.sidecar.watch import load_probes_file, watch

    logging.basicConfig(level=logging.WARNING, format="featureviz watch: %(message)s")
    try:
        overrides = {
            "max_filters": args.max_filters,
            "filter_steps": args.filter_steps,
            "filter_patterns": False if args.no_filters else None,
            "max_grid_pixels": args.max_grid_pixels,
            "input_range": _pair(args.input_range, "--input-range"),
            "preprocess": args.preprocess,
        }
        probes = labels = names = None
        if args.probes:
            probes, labels, names = load_probes_file(args.probes)
        if args.class_names:
            names = [n.strip() for n in args.class_names.split(",")]

        def report(step: int, path: str, seconds: float) -> None:
            print(f"featureviz watch: step {step} from {path} in {seconds:.1f} s", flush=True)

        print(f"featureviz watch: {args.checkpoint_dir} -> {args.logdir}/featureviz", flush=True)
        steps, skipped = watch(
            args.checkpoint_dir,
            args.logdir,
            probes=probes,
            labels=labels,
            class_names=names,
            overrides=overrides,
            once=args.once,
            poll_seconds=args.poll,
            on_step=report,
        )
    except (ValueError, TypeError) as e:
        print(f"featureviz watch: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    print(f"featureviz watch: wrote {len(steps)} step(s): {steps}", flush=True)
    if skipped:
        print(f"featureviz watch: could not read {len(skipped)} checkpoint(s): {', '.join(skipped)}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``featureviz`` argument parser."""
    from tb_featureviz import __version__

    parser = argparse.ArgumentParser(
        prog="featureviz",
        description="See what a CNN learns while it trains: activations, filter patterns and Grad-CAM in TensorBoard.",
    )
    parser.add_argument("--version", action="version", version=f"tb-featureviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from tb_featureviz.trainer.train import add_train_arguments

    p_train = sub.add_parser("train", help="train the tutorial's CNN and write featureviz summaries")
    add_train_arguments(p_train)
    p_demo = sub.add_parser("demo", help="train in the background and watch it live in TensorBoard")
    _add_demo_arguments(p_demo)
    p_watch = sub.add_parser("watch", help="draw featureviz summaries from checkpoints, off the training machine")
    _add_watch_arguments(p_watch)
    p_data = sub.add_parser("make-data", help="write the embedded synthetic set as a folder of JPEGs")
    p_data.add_argument("dir")
    p_data.add_argument("--train", type=int, default=200)
    p_data.add_argument("--validation", type=int, default=100)
    p_data.add_argument("--seed", type=int, default=0)
    from tb_featureviz.export.cli import add_export_arguments

    p_export = sub.add_parser("export", help="export summaries as HTML, PNG, GIF or ZIP for reports")
    add_export_arguments(p_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``featureviz`` console script."""
    # TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) buries the progress bar; the user
    # can still ask for it with TF_CPP_MIN_LOG_LEVEL=0.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    if args.command == "train":
        from tb_featureviz.trainer.train import run_train

        return run_train(args)
    if args.command == "watch":
        return run_watch(args)
    from tb_featureviz.export.cli import run_export, use_tensorboard_stub

    if args.command == "demo":
        use_tensorboard_stub(args.logdir)  # the server process reads logs only; training is the child's
        code = run_demo(args)
        # TensorBoard's server threads are daemon threads that may sit in native code (gRPC to the data
        # server); finalizing the interpreter under them can abort the process ("FATAL: exception not
        # rethrown"). Training is stopped and output flushed by now, so leave at once; the Rust data
        # server exits when our end of its stdin closes.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.command == "make-data":
        return run_make_data(args)

    use_tensorboard_stub(args.logdir)  # export reads through TensorBoard alone: no TensorFlow start-up
    return run_export(args)


if __name__ == "__main__":
    sys.exit(main())
