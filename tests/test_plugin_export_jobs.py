"""The registry behind the dashboard's export progress bar."""

from __future__ import annotations

import threading

import pytest

from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError
from tb_featureviz.plugin.export_jobs import ExportJobs


def test_phases_counts_and_end_states() -> None:
    jobs = ExportJobs()
    read, render = jobs.start("a1")
    assert jobs.get("a1") == {"job": "a1", "state": "running", "phase": "read", "done": 0, "total": 0, "what": ""}
    read(3, 8, "exp1 activations/conv1 epoch 2")
    assert (jobs.get("a1")["phase"], jobs.get("a1")["done"], jobs.get("a1")["total"]) == ("read", 3, 8)
    render(1, 4, "html exp1")
    assert jobs.get("a1") == {
        "job": "a1",
        "state": "running",
        "phase": "render",
        "done": 1,
        "total": 4,
        "what": "html exp1",
    }
    jobs.finish("a1", ok=True)
    assert jobs.get("a1")["state"] == "done"
    jobs.start("b2")
    jobs.finish("b2", ok=False)
    assert jobs.get("b2")["state"] == "failed"
    snapshot = jobs.get("b2")
    snapshot["done"] = 99  # a copy: the registry is not changed through it
    assert jobs.get("b2")["done"] == 0


def test_keeps_the_newest_jobs_only() -> None:
    jobs = ExportJobs(keep=2)
    for job in ("j1", "j2", "j3"):
        jobs.start(job)
    with pytest.raises(ExportNotFoundError, match="'j1'"):
        jobs.get("j1")
    assert [jobs.get(j)["job"] for j in ("j2", "j3")] == ["j2", "j3"]
    read, _ = jobs.start("j2")  # restarting moves it to the newest place
    jobs.start("j4")
    read(5, 5, "x")  # a forgotten job's callback is harmless
    with pytest.raises(ExportNotFoundError):
        jobs.get("j3")
    assert jobs.get("j2")["done"] == 5


def test_concurrent_updates_stay_consistent() -> None:
    jobs = ExportJobs()
    callbacks = [jobs.start(f"t{i}")[0] for i in range(4)]

    def work(i: int) -> None:
        for d in range(1, 501):
            callbacks[i](d, 500, f"step {d}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [jobs.get(f"t{i}")["done"] for i in range(4)] == [500] * 4


@pytest.mark.parametrize("job", ["", "a/b", "../x", "x" * 65, "sp ace"])
def test_bad_ids_are_argument_errors(job: str) -> None:
    jobs = ExportJobs()
    with pytest.raises(ExportArgumentError, match="job must be"):
        jobs.start(job)
    with pytest.raises(ExportArgumentError, match="job must be"):
        jobs.get(job)


@pytest.mark.parametrize("keep", [0, -1, 1.5, "3"])
def test_bad_keep_is_a_value_error(keep: object) -> None:
    with pytest.raises(ValueError, match="keep"):
        ExportJobs(keep=keep)  # type: ignore[arg-type]
