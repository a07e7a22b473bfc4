"""`featureviz demo` end to end: background training plus a real TensorBoard; Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tb_featureviz.cli import build_parser


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.slow
def test_demo_trains_serves_and_stops_on_ctrl_c(tmp_path):
    logdir = tmp_path / "runs"
    cmd = [
        sys.executable, "-m", "tb_featureviz.cli", "demo", "--logdir", str(logdir), "--port", "0", "--epochs", "2",
        "--train-args", "--train-images 16 --validation-images 8 --image-size 40 --run tiny",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        url = None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"TensorBoard at (http://127\.0\.0\.1:\d+/)#featureviz", line)
            if m:
                url = m.group(1)
        assert url, "".join(lines)
        listing = _get_json(url + "data/plugins_listing")
        assert "featureviz" in listing
        # The page fills in as training writes: wait until both epochs of the run are served.
        steps: list[int] = []
        while time.monotonic() < deadline:
            index = _get_json(url + "data/plugin/featureviz/index")
            runs = {r["run"]: r for r in index["runs"]}
            steps = runs.get("tiny", {}).get("steps", [])
            if steps == [0, 1]:
                break
            time.sleep(1)
        assert steps == [0, 1]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopping" in out


def test_parser_has_the_documented_commands():
    parser = build_parser()
    args = parser.parse_args(["train", "--epochs", "3", "--augment"])
    assert (args.command, args.epochs, args.augment, args.logdir) == ("train", 3, True, "runs")
    args = parser.parse_args(["demo", "--no-train", "--port", "0"])
    assert (args.command, args.no_train, args.port) == ("demo", True, 0)
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["train", "--base", "resnet"])
    assert e.value.code == 2
