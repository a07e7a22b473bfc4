"""The README's quick start, as a new user types it: a fresh clone, a fresh virtual environment, the checkout
root as working folder, ``pip install . && featureviz demo`` (for one epoch).

It installs TensorFlow into a new environment (a minute or two from pip's cache, more without), so it is
marked ``quickstart``: ``python -m pytest -m "not quickstart"`` leaves it out locally; CI runs it. It tests
the last commit (``git clone`` of this checkout), not uncommitted changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.quickstart, pytest.mark.slow]


def _readme_quick_start() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Quick start")
    block = text[start:].split("```bash\n", 1)[1].split("```", 1)[0].strip()
    return block


def test_readme_quick_start_command_is_what_this_test_runs():
    assert _readme_quick_start() == "pip install . && featureviz demo"


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_quick_start_from_a_fresh_clone_in_a_fresh_venv(tmp_path):
    clone = tmp_path / "tb-featureviz"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    # The README's command, from the checkout root, for one epoch on a free port.
    command = _readme_quick_start() + " --epochs 1 --port 0"
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    err: list[str] = []
    finished = threading.Event()

    def pump(stream, sink: list[str], marker: str | None) -> None:
        for line in stream:
            sink.append(line)
            if marker is not None and marker in line:
                finished.set()

    threading.Thread(target=pump, args=(proc.stdout, out, "featureviz demo: training "), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, err, None), daemon=True).start()
    try:
        assert finished.wait(900), (
            f"no end of training reported.\nstdout: {''.join(out)[-3000:]}\nstderr: {''.join(err)[-3000:]}"
        )
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stdout, stderr = "".join(out), "".join(err)
    assert "featureviz demo: training finished" in stdout, stdout[-3000:] + stderr[-3000:]
    assert "ModuleNotFoundError" not in stderr
    assert "featureviz: epoch 0 written to runs/" in stderr  # the README's promised line, at the default level
    (run,) = (clone / "runs").iterdir()
    assert sorted(p.name for p in run.iterdir()) == ["featureviz", "train", "validation"]
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "featureviz").iterdir())
