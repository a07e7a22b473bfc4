"""``featureviz demo`` when training fails: the terminal says why, the run records it, the dashboard shows it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tb_featureviz.status import failure_message, write_status
from tests.support.browser import open_entry, save_screenshot, watched_page
from tests.support.routes import PLUGIN_ROUTE, http_json
from tests.support.server import data_server_available, start_tensorboard

ROOT = Path(__file__).resolve().parents[1]


def test_failure_message_picks_the_cause():
    tail = "Epoch 1/3\nTraceback (most recent call last):\n  File 'x.py', line 1\nValueError: bad shape (3, 4)\n"
    assert failure_message(tail, 1) == "ValueError: bad shape (3, 4)"
    assert failure_message("No module named x\nModuleNotFoundError: No module named 'x'", 1) == (
        "ModuleNotFoundError: No module named 'x'"
    )
    assert failure_message("", -9) == "the training process was killed by signal 9"
    assert failure_message("", 3) == "the training process exited with code 3"
    assert failure_message("some output\nlast words\n", 1) == "last words"


def _run_failing_demo(logdir: Path, cwd: Path) -> tuple[str, str]:
    """Runs ``featureviz demo`` whose training cannot find its data; returns (stdout, stderr) once it reported."""
    cmd = [sys.executable, "-m", "tb_featureviz.cli", "demo", "--logdir", str(logdir), "--port", "0", "--epochs", "1"]
    cmd += [f"--train-args=--data-dir {cwd / 'missing'} --run broken"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out: list[str] = []
    err: list[str] = []
    seen = {"err": threading.Event(), "out": threading.Event()}

    def pump(stream, sink: list[str], marker: str, key: str) -> None:
        for line in stream:
            sink.append(line)
            if marker in line:
                seen[key].set()

    threading.Thread(target=pump, args=(proc.stderr, err, "shows this error", "err"), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stdout, out, "featureviz demo: training ", "out"), daemon=True).start()
    try:
        reported = seen["err"].wait(120) and seen["out"].wait(30)
        assert reported, f"the demo never reported the failure:\n{''.join(out)}\n{''.join(err)[-3000:]}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return "".join(out), "".join(err)


@pytest.mark.slow
def test_demo_reports_a_failed_training_in_the_terminal_and_the_run(tmp_path, browser):
    logdir = tmp_path / "runs"
    out, err = _run_failing_demo(logdir, tmp_path)
    assert "featureviz demo: TensorBoard at http://127.0.0.1:" in out
    cause = "featureviz train: error: " + f"{tmp_path / 'missing' / 'train'} is not a directory"
    assert f"featureviz demo: training failed: {cause}" in err
    assert "featureviz demo: the FeatureViz tab shows this error in run 'broken'" in err
    assert "training stopped with exit code 2" in out
    files = os.listdir(logdir / "broken" / "featureviz")
    assert len(files) == 1 and files[0].endswith(".status")

    loaders = [False, True] if data_server_available() else [False]
    for load_fast in loaders:
        url, stop = start_tensorboard(logdir, load_fast=load_fast)
        try:
            deadline = time.monotonic() + 30
            runs: list = []
            while time.monotonic() < deadline and not runs:
                runs = http_json(url.rstrip("/") + PLUGIN_ROUTE + "/index")["runs"]
                time.sleep(0.5)
            (run,) = runs
            assert run["run"] == "broken" and run["featureviz"] is True
            status = run["status"]
            assert status["state"] == "failed" and status["exit_code"] == 2
            assert status["message"].startswith(cause)
            assert cause in status["log_tail"]
            if load_fast is False:
                with watched_page(browser) as w:
                    page = open_entry(w.page, url, "run=broken")
                    alert = page.locator(".message.error").first
                    alert.wait_for()
                    assert alert.locator(".message-title").inner_text() == "Training stopped with an error"
                    assert cause in alert.locator(".message-text").inner_text()
                    page.locator(".failure-log summary").click()
                    page.wait_for_timeout(100)
                    assert cause in page.locator(".failure-log pre").inner_text()
                    save_screenshot(page, "demo-failed-training.png")
        finally:
            stop()


def test_status_record_reads_back_through_the_offline_reader(tmp_path):
    from tb_featureviz.reader.offline import open_logdir

    write_status(tmp_path / "r1", {"state": "failed", "message": "boom", "exit_code": 1, "log_tail": "x" * 9000})
    with open_logdir(str(tmp_path)) as reader:
        (run,) = reader.index()["runs"]
    assert run["run"] == "r1" and run["status"] == {
        "state": "failed",
        "message": "boom",
        "exit_code": 1,
        "log_tail": "x" * 4000,  # the tail is kept short
    }
