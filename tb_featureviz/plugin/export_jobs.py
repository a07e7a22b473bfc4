"""Progress of the dashboard's exports, so the page can draw a progress bar while the server works.

The page picks a job id, sends it with ``/export?job=<id>&...`` and polls ``/export_progress?job=<id>``
while that request runs. TensorBoard serves requests on threads, so the registry is locked. It keeps the
last ``keep`` jobs after they end, so a poll that arrives after the download still gets the final count.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import TypedDict

from tb_featureviz.export.errors import ExportArgumentError, ExportNotFoundError
from tb_featureviz.export.progress import ProgressCallback
from tb_featureviz.reader.integrity import clip
from tb_featureviz.validation import positive_int

JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a job id may be: the page sends a random token."""


def check_job_id(job: str) -> str:
    """Returns ``job`` when it is a valid job id, else raises ``ExportArgumentError`` (a 400)."""
    if not JOB_ID.fullmatch(job):
        raise ExportArgumentError(f"job must be 1 to 64 letters, digits, '-' or '_'. Received: job={clip(job)}")
    return job


class JobProgress(TypedDict):
    """An export job's progress, as ``/export_progress`` answers it."""

    job: str
    state: str
    """``"running"``, ``"done"`` or ``"failed"``."""
    phase: str
    """``"read"`` or ``"render"``."""
    done: int
    total: int
    what: str


class ExportJobs:
    """Thread-safe ``job id -> progress`` of the exports the dashboard started.

    Example:
        >>> jobs = ExportJobs()
        >>> read, render = jobs.start("a1")
        >>> read(3, 8, "run1 activations/conv1 epoch 2")
        >>> jobs.get("a1")["done"], jobs.get("a1")["phase"]
        (3, 'read')
        >>> jobs.finish("a1", ok=True)

    Args:
        keep: How many jobs to remember; the oldest is forgotten first.
    """

    def __init__(self, keep: int = 64) -> None:
        self._keep = positive_int("keep", keep)
        self._jobs: OrderedDict[str, JobProgress] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, job: str) -> tuple[ProgressCallback, ProgressCallback]:
        """Registers a running job (replacing one of the same id).

        Returns:
            ``(read, render)``: the ``progress(done, total, what)`` callbacks of the two phases.
        """
        check_job_id(job)
        with self._lock:
            self._jobs.pop(job, None)
            self._jobs[job] = {"job": job, "state": "running", "phase": "read", "done": 0, "total": 0, "what": ""}
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
        return self._callback(job, "read"), self._callback(job, "render")

    def _callback(self, job: str, phase: str) -> ProgressCallback:
        def progress(done: int, total: int, what: str) -> None:
            with self._lock:
                entry = self._jobs.get(job)
                if entry is not None:
                    entry.update({"phase": phase, "done": int(done), "total": int(total), "what": str(what)})

        return progress

    def finish(self, job: str, *, ok: bool) -> None:
        """Marks a job ``done`` (``ok``) or ``failed``."""
        with self._lock:
            entry = self._jobs.get(job)
            if entry is not None:
                entry["state"] = "done" if ok else "failed"

    def get(self, job: str) -> JobProgress:
        """A copy of a job's progress: ``{job, state, phase, done, total, what}``.

        Raises:
            ExportArgumentError: a malformed id (400).
            ExportNotFoundError: no such job, or one long forgotten (404).
        """
        check_job_id(job)
        with self._lock:
            entry = self._jobs.get(job)
            if entry is None:
                raise ExportNotFoundError(f"no export job {clip(job)} (it has not started, or ended long ago)")
            return entry.copy()
