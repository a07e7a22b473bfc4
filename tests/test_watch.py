"""``featureviz watch``, the sidecar: the same summaries as the callback, from checkpoints."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from tb_featureviz import FeatureVizCallback, cli, render
from tb_featureviz.sidecar.watch import checkpoint_step, find_checkpoints, watch
from tests.support.events import TIMING_TAGS, read_run
from tests.support.models import tiny_data, tiny_model


def train_with_checkpoints(tmp_path, epochs: int = 3):
    """One training with both sides: the callback drawing everything (run A), and the sidecar's inputs
    (checkpoints + a callback with visualize=False, run B), so both see the same weights at each epoch."""
    model = tiny_model()
    x, y = tiny_data()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    common = {"probe_labels": y[:3], "class_names": ["a", "b"], "filter_steps": 3, "max_filters": 4}
    full = FeatureVizCallback(tmp_path / "A", x[:3], budget=None, **common)
    source = FeatureVizCallback(tmp_path / "B", x[:3], visualize=False, **common)
    ckpt = keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpts" / "ckpt-{epoch:03d}.keras"))
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=[full, source, ckpt])
    return x, y


def test_checkpoint_names_to_steps(tmp_path):
    assert checkpoint_step("ckpts/ckpt-003.keras") == 2
    assert checkpoint_step("run7/epoch_12-val_0.93.keras") == 92  # the last number counts
    assert checkpoint_step("model.keras") is None and checkpoint_step("ckpt-003.h5") is None
    for name in ("ckpt-010.keras", "ckpt-002.keras", "notes.txt", "best.keras"):
        (tmp_path / name).write_bytes(b"")
    assert [s for s, _ in find_checkpoints(str(tmp_path))] == [1, 9]


def test_sidecar_writes_the_callbacks_pngs_and_tags(tmp_path):
    train_with_checkpoints(tmp_path)
    # The training side wrote only curves, probes and run info, to featureviz-source: no visual work.
    source = read_run(tmp_path / "B" / "featureviz-source")
    assert not any(t.startswith(("activations/", "filters/", "gradcam/")) for t in source)
    assert (tmp_path / "B" / "featureviz-source" / "probes.npz").exists()
    assert not (tmp_path / "B" / "featureviz").exists()

    seen = []
    steps, skipped = watch(
        str(tmp_path / "ckpts"), str(tmp_path / "B"), once=True, on_step=lambda s, p, t: seen.append(s)
    )
    assert steps == seen == [0, 1, 2] and skipped == []
    a = read_run(tmp_path / "A" / "featureviz")
    b = read_run(tmp_path / "B" / "featureviz")
    assert set(a) == set(b)
    for tag in set(a) - TIMING_TAGS - {"run_info", "plan"}:
        assert set(a[tag].values) == set(b[tag].values), tag
        for step, value in a[tag].values.items():
            if value.dtype == object:  # blob sequences: every PNG byte for byte, every record equal
                assert list(value) == list(b[tag].values[step]), (tag, step)
            else:
                np.testing.assert_allclose(value, b[tag].values[step], rtol=1e-6, err_msg=f"{tag} {step}")
    plan_a, plan_b = (json.loads(r["plan"].values[2][0]) for r in (a, b))
    assert plan_a["filters"] == plan_b["filters"] and plan_a["activations"] == plan_b["activations"]

    # A second run finds nothing to do: the steps in the run are not redone.
    assert watch(str(tmp_path / "ckpts"), str(tmp_path / "B"), once=True) == ([], [])


def test_half_written_checkpoint_is_skipped_and_retried_never_a_crash(tmp_path, capsys):
    train_with_checkpoints(tmp_path, epochs=1)
    good = (tmp_path / "ckpts" / "ckpt-001.keras").read_bytes()
    (tmp_path / "ckpts" / "ckpt-002.keras").write_bytes(good[: len(good) // 2])  # a save cut short
    code = cli.main(["watch", str(tmp_path / "ckpts"), "--logdir", str(tmp_path / "B"), "--once"])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    assert "could not read 1 checkpoint(s)" in out.err and "ckpt-002.keras" in out.err
    assert "step 0 from" in out.out
    assert set(read_run(tmp_path / "B" / "featureviz")["plan"].values) == {0}

    # Once the save completes, the next look picks it up.
    (tmp_path / "ckpts" / "ckpt-002.keras").write_bytes(good)
    assert cli.main(["watch", str(tmp_path / "ckpts"), "--logdir", str(tmp_path / "B"), "--once"]) == 0
    assert set(read_run(tmp_path / "B" / "featureviz")["plan"].values) == {0, 1}


def test_probes_from_a_file_and_clear_errors(tmp_path, capsys):
    train_with_checkpoints(tmp_path, epochs=1)
    x, _y = tiny_data()
    np.save(tmp_path / "probes.npy", x[5:7])
    code = cli.main(
        [
            "watch",
            str(tmp_path / "ckpts"),
            "--logdir",
            str(tmp_path / "C"),
            "--once",
            "--probes",
            str(tmp_path / "probes.npy"),
        ]
    )
    assert code == 0
    probes = read_run(tmp_path / "C" / "featureviz")["probes"].values[0]
    np.testing.assert_array_equal(render.decode_png(probes[1]), render.to_uint8_image(x[5:6])[0])

    # No probes anywhere: exit 2 and say where they come from.
    assert cli.main(["watch", str(tmp_path / "ckpts"), "--logdir", str(tmp_path / "D"), "--once"]) == 2
    assert "--probes" in capsys.readouterr().err
    np.save(tmp_path / "bad.npy", np.zeros((3, 3)))
    assert (
        cli.main(
            ["watch", str(tmp_path / "ckpts"), "--logdir", str(tmp_path / "D"), "--probes", str(tmp_path / "bad.npy")]
        )
        == 2
    )
    assert "(3, 3)" in capsys.readouterr().err


@pytest.mark.parametrize("shape", [(2, 20, 20, 3)])
def test_probes_that_do_not_fit_the_model(tmp_path, shape, capsys):
    train_with_checkpoints(tmp_path, epochs=1)
    np.save(tmp_path / "p.npy", np.zeros(shape, np.float32))
    args = [
        "watch",
        str(tmp_path / "ckpts"),
        "--logdir",
        str(tmp_path / "E"),
        "--once",
        "--probes",
        str(tmp_path / "p.npy"),
    ]
    assert cli.main(args) == 2
    assert "20, 20, 3" in capsys.readouterr().err
