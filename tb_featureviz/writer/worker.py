"""The writer worker: renders, encodes and writes featureviz summaries off the training thread.

The training thread computes arrays (it needs that epoch's weights) and hands the epoch's writes to
``SummaryWorker.submit`` as one batch of functions. One background thread runs the batches in order under
a ``tf.summary`` file writer, flushes after each, and only then counts the epoch as written: every epoch in
``written`` is on disk and readable, whatever happens to the process afterwards.

The queue is bounded (``max_pending`` epochs): if the worker falls behind, ``submit`` waits, and the
callback counts that wait as its own time. A failing write is logged and skipped; it never reaches the
training loop. The thread is not a daemon: when the main thread ends (normally or by an exception out of
``fit``), the worker finishes the queued epochs and then exits, so the interpreter waits for them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tensorflow as tf

logger = logging.getLogger(__name__)

__all__ = ["SummaryWorker", "Write"]

_POLL_SECONDS = 0.2

Write = Callable[[], object]
"""One summary write, queued for the worker thread (``functools.partial(summary.activations, ...)``); what it
returns is ignored."""


@dataclass
class _Batch:
    step: int
    writes: Sequence[Write]


class SummaryWorker:
    """A background thread that runs each epoch's summary writes in order, then flushes.

    Args:
        run_dir: Where the event files go (``<log_dir>/featureviz``).
        max_pending: Epochs that may wait in the queue before ``submit`` blocks.

    Attributes:
        written: Steps whose writes are flushed to disk, in order.
        render_seconds: Step -> seconds the worker spent rendering and writing it.
        cpu_seconds: CPU seconds of the worker thread so far (its ``time.thread_time()``, updated after each
            write): it runs on the cores training uses, so the callback counts it against the budget.
        bytes_written: Step -> bytes the event files grew by when it was flushed.
        errors: How many writes failed (each is logged).

    Example:
        >>> worker = SummaryWorker("runs/exp1/featureviz")
        >>> worker.submit(3, [lambda: summary.activations("conv1", acts, 3)])
        >>> worker.close()  # drains the queue, flushes, closes the file writer
    """

    def __init__(self, run_dir: str, *, max_pending: int = 2) -> None:
        self.run_dir = run_dir
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=max(1, max_pending))
        self._writer: tf.summary.SummaryWriter | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.written: list[int] = []
        self.render_seconds: dict[int, float] = {}
        self.cpu_seconds = 0.0
        self.bytes_written: dict[int, int] = {}
        self.errors = 0

    # -- the training thread's side ---------------------------------------------------------------

    def submit(self, step: int, writes: Sequence[Write]) -> float:
        """Queues one epoch's writes; waits while ``max_pending`` epochs are queued.

        Returns:
            Seconds spent waiting for room in the queue.
        """
        self._start()
        t0 = time.perf_counter()
        self._queue.put(_Batch(int(step), list(writes)))
        return time.perf_counter() - t0

    def drain(self, timeout: float | None = None) -> bool:
        """Waits until every queued epoch is written. Returns False on timeout."""
        if self._thread is None:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            if not self._thread.is_alive():
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Drains the queue, stops the thread and closes the file writer. A later ``submit`` starts anew."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._thread = None
        self._close_writer()

    # -- the worker thread ------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="featureviz-writer", daemon=False)
                self._thread.start()

    def _loop(self) -> None:
        main = threading.main_thread()
        while True:
            try:
                batch = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not main.is_alive():  # the program ended (or fit raised out of it): nothing more comes
                    self._close_writer()
                    return
                continue
            try:
                if batch is None:
                    self._close_writer()
                    return
                self._run(batch)
            finally:
                self._queue.task_done()

    def _close_writer(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # closing at exit: nothing left to save
                logger.debug("featureviz: closing the writer failed", exc_info=True)
            self._writer = None

    def _event_bytes(self) -> int:
        try:
            return sum(tf.io.gfile.stat(p).length for p in tf.io.gfile.glob(f"{self.run_dir}/events.out.tfevents.*"))
        except Exception:  # a file system that cannot stat: bytes are nice to have
            return 0

    def _run(self, batch: _Batch) -> None:
        t0 = time.perf_counter()
        cpu = time.thread_time()

        def count() -> None:
            nonlocal cpu
            now = time.thread_time()
            self.cpu_seconds += now - cpu
            cpu = now

        before = self._event_bytes()
        try:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.run_dir)
            with self._writer.as_default(step=batch.step):
                for write in batch.writes:
                    try:
                        write()
                    except Exception:
                        self.errors += 1
                        logger.warning("featureviz: a summary of step %d failed", batch.step, exc_info=True)
                    count()
            self._writer.flush()
        except Exception:
            self.errors += 1
            logger.warning("featureviz: step %d could not be written", batch.step, exc_info=True)
            return
        finally:
            count()
        self.render_seconds[batch.step] = time.perf_counter() - t0
        self.bytes_written[batch.step] = max(0, self._event_bytes() - before)
        self.written.append(batch.step)
        logger.info("featureviz: epoch %d written to %s", batch.step, self.run_dir)
