"""``tb_featureviz.export.cli``: ``featureviz export`` answers a mistake with one line, exit code 2 and no file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.exports import run_cli as _cli


def test_cli_unknown_run_lists_runs(spec, tmp_path, capsys):
    out = tmp_path / "r.html"
    code = _cli(["--logdir", spec.root, "--run", "nope", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'nope'" in err and "exp1" in err and "exp2" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_epoch_lists_epochs(spec, tmp_path, capsys):
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--epochs", "0,7", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "epoch 7" in err and "its epochs are 0, 1" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_unknown_layer_lists_layers(spec, tmp_path, capsys):
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--layers", "dense", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and "'dense'" in err and "conv2d, conv2d_1, max_pooling2d" in err


def test_cli_unwritable_out_leaves_nothing(spec, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("keep")
    for fmt, out in (("html", blocker / "r.html"), ("png", blocker), ("zip", blocker / "sub" / "x.zip")):
        code = _cli(["--logdir", spec.root, "--run", "exp1", "--format", fmt, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, fmt
        assert err.startswith("featureviz export: error: cannot write to") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert blocker.read_text() == "keep"


def test_cli_bad_epochs_syntax(spec, tmp_path, capsys):
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--epochs", "first", "--out", str(tmp_path / "r.html")])
    assert code == 2 and "0,10,29" in capsys.readouterr().err


def test_cli_success_prints_one_line(spec, tmp_path, capsys):
    out = tmp_path / "r.zip"
    code = _cli(["--logdir", spec.root, "--run", "exp1", "--format", "zip", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and out.is_file()
    assert captured.out.startswith(f"featureviz: wrote {out} (") and captured.out.count("\n") == 1
    assert captured.err == ""  # stderr is not a TTY: no progress bar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zip"]


def test_module_cli_in_a_subprocess(spec, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent.parent), *sys.path]))
    cmd = [sys.executable, "-m", "tb_featureviz.export.cli", "--logdir", spec.root, "--run", "exp3"]
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "r.html")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line: TensorFlow is not even imported
    last = proc.stderr.strip()
    assert last.startswith("featureviz export: error: run 'exp3' not found") and "exp1, exp2" in last
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
