"""`featureviz demo` end to end: background training plus a real TensorBoard; Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
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
        "--train-args", "--train-images 16 --validation-images 8 --image-size 48 --run tiny",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    lines: list[str] = []
    # Read the demo's output as it comes (also keeps the pipe from filling up and blocking the child).
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"TensorBoard at (http://127\.0\.0\.1:\d+/)#featureviz", "".join(lines))
            url = m.group(1) if m else None
            time.sleep(0.2)
        assert url, "".join(lines)
        listing = _get_json(url + "data/plugins_listing")
        assert listing["featureviz"]["enabled"] in (True, False)
        # The page fills in as training writes: wait until both epochs of the run are served.
        steps: list[int] = []
        while time.monotonic() < deadline:
            assert "training stopped" not in "".join(lines), "".join(lines)
            index = _get_json(url + "data/plugin/featureviz/index")
            runs = {r["run"]: r for r in index["runs"]}
            steps = runs.get("tiny", {}).get("steps", [])
            if steps == [0, 1]:
                break
            time.sleep(1)
        assert steps == [0, 1], "".join(lines)
        assert _get_json(url + "data/plugins_listing")["featureviz"]["enabled"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    out = "".join(lines)
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
