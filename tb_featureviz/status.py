"""The ``status`` record: why a training process stopped, written without TensorFlow.

``featureviz demo`` trains in a child process. When the child stops with an error (an exception in
``fit``, a missing module, a killed process), the demo writes what it printed last into the run as a
``status`` record, so the dashboard says that training failed and why instead of waiting for epochs that
will never come. The record is written through TensorBoard's own event-file writer: the demo's process
reads logs and never imports TensorFlow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tb_featureviz import metadata

__all__ = ["failure_message", "write_status"]

_MAX_TAIL = 4000
"""Characters of the child's last output kept in the record."""


def failure_message(log_tail: str, exit_code: int) -> str:
    """The one-line cause of a failure: the last ``Error:``/``Exception`` line of a traceback, else the last
    non-empty line, else the exit code.

    Example:
        >>> failure_message("Traceback (most recent call last):\\n  ...\\nValueError: bad", 1)
        'ValueError: bad'
    """
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt")) or line.startswith("featureviz train: error"):
            return line
    if exit_code < 0:
        return f"the training process was killed by signal {-exit_code}"
    return lines[-1] if lines else f"the training process exited with code {exit_code}"


def write_status(run_dir: str | os.PathLike[str], record: Mapping[str, object], step: int = 0) -> str:
    """Writes a ``status`` record into ``<run_dir>/featureviz``.

    Args:
        run_dir: The run directory (``<logdir>/<run>``).
        record: ``{"state": "failed", "message": ..., "exit_code": ..., "log_tail": ...}``.
        step: The step to write it at.

    Returns:
        The directory written to (``<run_dir>/featureviz``).

    Raises:
        TypeError: ``record`` is not JSON-serialisable.
    """
    record = dict(record)
    tail = record.get("log_tail")
    if isinstance(tail, str):
        record["log_tail"] = tail[-_MAX_TAIL:]
    blob = metadata.encode_record(record)
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]),
        string_val=[blob],
    )
    meta = metadata.create_summary_metadata("status", description="Why training stopped.")
    value = summary_pb2.Summary.Value(tag=metadata.tag_for("status"), tensor=tensor, metadata=meta)
    out_dir = os.path.join(os.fspath(run_dir), metadata.RUN_SUBDIR)
    os.makedirs(out_dir, exist_ok=True)
    writer = EventFileWriter(out_dir, filename_suffix=".status")
    writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=[value])))
    writer.close()
    return str(writer.get_logdir())
