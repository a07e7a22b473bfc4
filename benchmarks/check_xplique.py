"""Our deletion and insertion AUC against Xplique's own ``Deletion``/``Insertion``, on the same maps.

Xplique is not a dependency (its Linux wheel pins ``tensorflow[and-cuda]<=2.20`` and a dozen packages), so
this check runs in an environment where it is installed, for example::

    python -m venv --system-site-packages /tmp/xq && /tmp/xq/bin/pip install --no-deps xplique==2.0.2
    /tmp/xq/bin/pip install deprecated einops opencv-python-headless scikit-image scikit-learn matplotlib \\
        "tensorflow-probability[tf]"
    /tmp/xq/bin/python -m benchmarks.check_xplique

It trains the tutorial CNN briefly on the embedded set, takes Grad-CAM maps of the predicted classes of 8
probes, and prints both AUCs and their largest difference (the README quotes it).
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

from tb_featureviz import compute
from tb_featureviz.compute import faithfulness as fa
from tb_featureviz.trainer import data as data_mod
from tb_featureviz.trainer import model as model_mod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    from xplique.metrics import Deletion, Insertion  # only here: not a dependency of the project

    keras.utils.set_random_seed(0)
    train, val, _ = data_mod.synthetic_datasets(train=300, validation=40, seed=0)
    model = model_mod.build_cnn(150, augment=False, seed=0)
    model_mod.compile_like_tutorial(model, 1e-4)
    model.fit(train, validation_data=val, epochs=args.epochs, verbose=0, shuffle=False)
    probes = data_mod.synthetic_probes(args.probes)
    cam = compute.GradCAM(model)
    classes = np.argmax(cam.class_probabilities(probes.images), axis=1)
    maps = cam(probes.images, class_index=classes)
    onehot = np.eye(cam.num_classes, dtype=np.float32)[classes]
    print(f"tutorial CNN, {args.epochs} epochs, {args.probes} probes, Grad-CAM at {cam.layer_name}")
    print(f"{'metric':10} {'featureviz':>12} {'xplique':>12} {'|difference|':>14}")
    worst = 0.0
    for mode, metric in (("deletion", Deletion), ("insertion", Insertion)):
        ours = float(fa.auc(fa.causal_curves(cam.class_probabilities, probes.images, maps, classes, mode=mode)).mean())
        # The class score both sides read: the model's probability of each class (p and 1 - p for the
        # tutorial's one-unit sigmoid), as GradCAM.class_probabilities gives it.
        theirs = float(metric(cam.class_probabilities, probes.images, onehot, batch_size=64).evaluate(maps))
        worst = max(worst, abs(ours - theirs))
        print(f"{mode:10} {ours:12.6f} {theirs:12.6f} {abs(ours - theirs):14.2e}")
    print(f"largest difference: {worst:.2e} ({'within' if worst <= 1e-3 else 'NOT within'} 1e-3)")


if __name__ == "__main__":
    main()
