"""The reference trainer: the classic Keras cats-vs-dogs tutorial, with featureviz summaries.

Run it as ``featureviz train --logdir runs`` (embedded synthetic data set, no downloads) or
``featureviz train --logdir runs --data-dir cats_and_dogs_small`` (the Kaggle layout).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tb_featureviz.validation import int_at_least, one_of, positive_int

if TYPE_CHECKING:
    import keras

    from tb_featureviz.metadata import Record
    from tb_featureviz.trainer.data import SyntheticSet

logger = logging.getLogger(__name__)

BASES = ("cnn", "vgg16")
BACKENDS = ("tensorflow", "jax", "torch")


@dataclass
class TrainResult:
    """What ``train`` returns.

    Attributes:
        run_dir: ``<logdir>/<run>``, holding ``train``, ``validation`` and ``featureviz``.
        history: Keras' ``History.history``.
        model: The trained Keras model.
    """

    run_dir: Path
    history: dict[str, list[float]]
    model: keras.Model | None = None


def show_progress_lines(stream: TextIO | None = None) -> None:
    """Shows featureviz's INFO lines (``featureviz: epoch N written to ...``) on ``stream`` (default stderr).

    Library code only logs; a command-line entry point calls this once. In your own script, the same is
    ``logging.basicConfig()`` plus ``logging.getLogger("tb_featureviz").setLevel(logging.INFO)``.
    """
    log = logging.getLogger("tb_featureviz")
    if not any(getattr(h, "_featureviz", False) for h in log.handlers):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._featureviz = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    # Propagation stays on: a caller's own logging config (and pytest's capture) still sees every record.
    log.setLevel(logging.INFO)


def default_run_name(base: str, augment: bool) -> str:
    """``<base>[-aug]-YYYYmmdd-HHMMSS`` in local time."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{base}{'-aug' if augment else ''}-{stamp}"


def use_backend(backend: str | None) -> None:
    """Chooses the Keras backend for this process (``KERAS_BACKEND``), before Keras is imported.

    Raises:
        ValueError: an unknown backend, or Keras already runs on another one in this process.
    """
    if backend is None:
        return
    one_of("backend", backend, BACKENDS)
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
        return
    running = keras.backend.backend()
    if running != backend:
        raise ValueError(
            f"Keras already runs on the {running!r} backend in this process; a backend is chosen once, before "
            f"Keras is imported. Received: backend={backend!r} (run `KERAS_BACKEND={backend} featureviz train` "
            "or `featureviz train --backend ...` in a new process)"
        )


def train(
    logdir: str | os.PathLike[str],
    *,
    backend: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    epochs: int = 10,
    base: str = "cnn",
    weights: str | None = None,
    augment: bool = False,
    run_name: str | None = None,
    image_size: int = 150,
    batch_size: int = 20,
    learning_rate: float = 1e-4,
    synthetic_train: int = 1000,
    synthetic_validation: int = 400,
    filter_every_n_epochs: int = 1,
    budget: float | None = 0.05,
    seed: int = 0,
    verbose: int | str = "auto",
    out: TextIO | None = None,
) -> TrainResult:
    """Trains the tutorial's model and writes Keras' and featureviz summaries to ``<logdir>/<run>``.

    Args:
        logdir: The TensorBoard log directory.
        backend: The Keras backend, ``"tensorflow"``, ``"jax"`` or ``"torch"`` (default: ``KERAS_BACKEND``, else
            TensorFlow). It is chosen once per process, before Keras is imported. The data pipeline is
            ``tf.data`` on every backend (Keras 3 reads it on all three).
        data_dir: A folder with ``train/<class>/*.jpg`` and ``validation/<class>/*.jpg``; ``None`` uses the
            embedded synthetic data set.
        epochs: Epochs to train.
        base: ``"cnn"`` (the tutorial's 4-conv CNN) or ``"vgg16"`` (frozen VGG16 base).
        weights: For ``base="vgg16"``: a local weights file, ``"imagenet"`` or ``None``.
        augment: Add the tutorial's augmentation layers.
        run_name: Name of the run directory (default ``<base>-<timestamp>``).
        image_size: Input side in pixels.
        batch_size: Batch size.
        learning_rate: RMSprop learning rate.
        synthetic_train: Training images of the synthetic set.
        synthetic_validation: Validation images of the synthetic set.
        filter_every_n_epochs: Filter patterns at most every n logged epochs (the budget decides).
        budget: The featureviz callback's share of training time (``None``: no limit).
        seed: Seeds Keras, the data and the featureviz probes.
        verbose: Keras' ``fit`` verbosity (the progress bar by default).
        out: Where the run name and the closing hint are printed (default stdout).

    Returns:
        A ``TrainResult``.

    Raises:
        ValueError: a bad argument, naming the value; a backend other than the one Keras already runs on.
    """
    use_backend(backend)
    import keras

    from tb_featureviz.trainer import model as model_mod
    from tb_featureviz.writer.callback import FeatureVizCallback

    out = out or sys.stdout
    _check_arguments(base, epochs, image_size, weights)
    keras.utils.set_random_seed(seed)
    data = _Data.load(data_dir, synthetic_train, synthetic_validation, image_size, batch_size, seed)
    if base == "cnn":
        model = model_mod.build_cnn(image_size, augment=augment, seed=seed)
    else:
        model = model_mod.build_vgg16(image_size, weights=weights, augment=augment, seed=seed)
    model_mod.compile_like_tutorial(model, learning_rate)

    run = run_name or default_run_name(base, augment)
    run_dir = Path(logdir) / run
    print(
        f"featureviz: run {run!r} -> {run_dir} ({model.name} on the {data.source}, Keras on {keras.backend.backend()})",
        file=out,
        flush=True,
    )
    hparams: Record = {
        "backend": keras.backend.backend(),
        "base": base,
        "augment": augment,
        "epochs": epochs,
        "batch_size": batch_size,
        "image_size": image_size,
        "learning_rate": learning_rate,
        "optimizer": "RMSprop",
        "data": data.source,
        "seed": seed,
    }
    probes = data.probes
    callbacks = [
        keras.callbacks.TensorBoard(os.fspath(run_dir)),
        FeatureVizCallback(
            run_dir,
            probe_images=None if probes is None else probes.images,
            probe_labels=None if probes is None else probes.labels,
            probe_boxes=None if probes is None else probes.boxes,
            validation_data=data.validation_data,
            class_names=data.class_names,
            filter_every_n_epochs=filter_every_n_epochs,
            budget=budget,
            hparams=hparams,
            seed=seed,
        ),
    ]
    # The datasets shuffle themselves; Keras' default shuffle=True would only warn that it is ignored.
    history = model.fit(
        data.train, validation_data=data.validation, epochs=epochs, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    print(
        f"featureviz: done. See it with:\n  tensorboard --logdir {os.fspath(logdir)}\n"
        "and open the FeatureViz tab (or run `featureviz demo` for training and TensorBoard in one).",
        file=out,
        flush=True,
    )
    return TrainResult(run_dir=run_dir, history=dict(history.history), model=model)


def _check_arguments(base: str, epochs: int, image_size: int, weights: str | None) -> None:
    one_of("base", base, BASES)
    positive_int("epochs", epochs)
    min_size = 46 if base == "cnn" else 32  # four valid 3x3 convs + 2x2 pools need 46 px; VGG16 needs 32
    int_at_least("image_size", image_size, min_size)  # for this base
    if weights is not None and base != "vgg16":
        raise ValueError(f"weights applies to base='vgg16' only. Received: weights={weights!r} with base={base!r}")


@dataclass
class _Data:
    """The training and validation sets, and where the callback takes its probes from."""

    train: object
    validation: object
    class_names: list[str]
    source: str
    """What the run was trained on, for the console and the run's hyper-parameters."""
    probes: SyntheticSet | None
    """The synthetic set's exact probes (with their boxes); ``None``: the callback picks from ``validation_data``."""
    validation_data: object | None

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike[str] | None,
        synthetic_train: int,
        synthetic_validation: int,
        image_size: int,
        batch_size: int,
        seed: int,
    ) -> _Data:
        from tb_featureviz.trainer import data as data_mod

        if data_dir is None:
            train_ds, val_ds, class_names = data_mod.synthetic_datasets(
                train=synthetic_train,
                validation=synthetic_validation,
                size=image_size,
                batch_size=batch_size,
                seed=seed,
            )
            source = f"embedded synthetic set ({synthetic_train} train / {synthetic_validation} validation images)"
            probes = data_mod.synthetic_probes(validation=synthetic_validation, size=image_size, seed=seed)
            return cls(train_ds, val_ds, class_names, source, probes, validation_data=None)
        train_ds, val_ds, class_names = data_mod.load_image_folder(
            data_dir, image_size=image_size, batch_size=batch_size, seed=seed
        )
        return cls(train_ds, val_ds, class_names, os.fspath(data_dir), None, validation_data=val_ds)


def _budget(text: str) -> float | None:
    if text.strip().lower() in ("none", "unlimited"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a fraction such as 0.05, or 'none'. Received: {text!r}") from None


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``featureviz train``'s flags to ``parser``."""
    parser.add_argument("--logdir", default="runs", help="TensorBoard log directory (default: runs)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="the Keras backend to train on (default: KERAS_BACKEND, else tensorflow)",
    )
    parser.add_argument("--data-dir", default=None, help="folder with train/<class>/*.jpg and validation/<class>/*.jpg")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--base", choices=BASES, default="cnn", help="the 4-conv CNN or a frozen VGG16 base")
    parser.add_argument("--weights", default=None, help="VGG16 weights: a local file or 'imagenet'")
    parser.add_argument("--augment", action="store_true", help="random flip, rotation and zoom")
    parser.add_argument("--run", dest="run_name", default=None, help="run name (default: <base>-<timestamp>)")
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--train-images", dest="synthetic_train", type=int, default=1000)
    parser.add_argument("--validation-images", dest="synthetic_validation", type=int, default=400)
    parser.add_argument("--filter-every", dest="filter_every_n_epochs", type=int, default=1)
    parser.add_argument(
        "--budget",
        type=_budget,
        default=0.05,
        help="featureviz's share of training time (default 0.05; 'none' for no limit)",
    )
    parser.add_argument("--seed", type=int, default=0)


def run_train(args: argparse.Namespace) -> int:
    """Runs ``featureviz train`` from parsed arguments; returns the exit code."""
    show_progress_lines()
    kwargs = {
        k: getattr(args, k)
        for k in (
            "backend",
            "data_dir",
            "epochs",
            "base",
            "weights",
            "augment",
            "run_name",
            "image_size",
            "batch_size",
            "learning_rate",
            "synthetic_train",
            "synthetic_validation",
            "filter_every_n_epochs",
            "budget",
            "seed",
        )
    }
    try:
        train(args.logdir, **kwargs)
    except ValueError as e:
        print(f"featureviz train: error: {e}", file=sys.stderr)
        return 2
    return 0
