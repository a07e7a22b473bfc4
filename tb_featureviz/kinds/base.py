"""What a summary kind declares: :class:`Kind`, and the signatures of the per-kind hooks.

Pure declarations: this module imports nothing of the package but (for type checkers only) the names its
hook signatures mention, so ``tb_featureviz.metadata`` can build its tables from the registry without a cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:
    from tb_featureviz.export.content import Figure, RunExport
    from tb_featureviz.export.options import ExportOptions
    from tb_featureviz.export.report import FigureBlock, Numbers
    from tb_featureviz.metadata import GridLayout, Record


def resolve(path: str) -> Any:
    """What ``path`` (``"module:name"``) names, its module imported now."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def on_call(path: str) -> Callable[..., Any]:
    """A hook that lives where a kind module may not import it when it loads (the export needs matplotlib):
    ``path`` (``"module:function"``) is imported at the first call, which the hook passes on."""

    def hook(*args: Any, **kwargs: Any) -> Any:
        return resolve(path)(*args, **kwargs)

    hook.__qualname__ = hook.__name__ = path
    return hook


class FigureCommon(TypedDict):
    """The fields every figure of a stored step shares (``export.content.Figure``'s)."""

    run: str
    kind: str
    layer: str
    epoch: int
    wall_time: float | None
    nonfinite: int


class FiguresFn(Protocol):
    """The export's reading of one stored step of a per-layer kind into figures (``export/collect.py``).

    Args:
        run: The run being read (probe labels, class names, probe images).
        common: The fields every figure of the step shares (run, kind, layer, epoch, wall time, ``nonfinite``).
        record: The step's record (element 0 of the blob sequence).
        images: The step's images, ``None`` where damaged (listed in the report).
        layout: The tag's grid layout, if any.
        probe: The one probe image to export, or ``None`` for all.
    """

    def __call__(
        self,
        run: RunExport,
        common: FigureCommon,
        record: Record,
        images: Sequence[bytes | None],
        layout: GridLayout | None,
        probe: int | None,
    ) -> list[Figure]: ...


SummaryFn = Callable[["Numbers", "RunExport", str, "ExportOptions"], "list[FigureBlock]"]
"""A kind's figures of one run in a summary report, ``(numbers, run, who, options) -> blocks`` (``who``: the
run's name and a colon where the report has several runs, else ``""``)."""


@dataclass(frozen=True)
class ExportDrawing:
    """How the export draws a kind (every hook takes an ``export.content.Figure`` of this kind).

    Attributes:
        figures: A stored step as figures (``export/collect.py``).
        note: The paragraph under the kind's heading in the HTML report.
        grid_summary: What a grid shows, ``(figure, plain) -> text`` (``Figure.grid_summary``); None: no grid.
        caption: The kind's parts of a one-line plain caption, ``(figure, probe_parts) -> parts``: it places
            ``probe_parts`` (``["probe 3"]`` or ``[]``) among its own.
        html_caption: The same in HTML, ``(run, figure, channel, probe_parts) -> parts``.
        manifest: The kind's fields of a figure's ``manifest.json`` entry.
        channels: Whether a figure is a grid with a tile per channel (or filter): ``--channel`` applies.
        channel_filter: Keeps a tag's figures that show ``--channel`` (filters: those whose rotation drew it),
            ``(figures, channel) -> figures``; None: every epoch's figures are checked as they are read.
        pixel_grid: A grid of small tiles (enlarged, crisp, to about 480 CSS pixels), not an input-size map.
        colour_note: What the HTML report's header says of the kind's colour map, ``(colormap, present) -> text``
            (``colormap``: the export's ``--colormap``; ``present``: the report holds figures of the kind); None:
            nothing.
        summary_final: The kind's figures in a summary's "Final epoch" section (``export/report.py``).
        summary_changes: The kind's filmstrips in a summary's "How it changed" section (runs with 2+ epochs).
    """

    figures: FiguresFn
    note: str
    grid_summary: Callable[[Figure, bool], str | None] | None = None
    caption: Callable[[Figure, list[str]], list[str]] | None = None
    html_caption: Callable[[RunExport, Figure, int | None, list[str]], list[str]] | None = None
    manifest: Callable[[Figure], Record] | None = None
    channels: bool = False
    channel_filter: Callable[[list[Figure], int | None], list[Figure]] | None = None
    pixel_grid: bool = True
    colour_note: Callable[[str | None, bool], str | None] | None = None
    summary_final: SummaryFn | None = None
    summary_changes: SummaryFn | None = None


@dataclass(frozen=True)
class Kind:
    """One summary kind, declared in one place (one module of ``tb_featureviz.kinds`` per kind).

    Attributes:
        name: The kind's name: in summary metadata, the index's ``kinds``, URLs and the export's ``--kinds``.
        tag_prefix: The tag of a per-layer kind is ``tag_prefix + layer`` (``"activations/"``); a kind written
            once per run has the one tag ``tag_prefix`` (``"probes"``); a kind stored as scalars has ``""``
            (its tags are ``scalar_prefixes``).
        label: How the dashboard and the export title it (``Filter patterns``).
        noun: Its plural noun in messages (``filter patterns``).
        view: Whether the dashboard shows it: a line of ``frontend/kinds.js`` ``KIND_VIEWS`` and a view module
            ``frontend/view-<name>.js`` (a toolbar tab, a grid's drill-down, or charts beside the curves).
        layered: One tag per layer (``tag_prefix + layer``), listed in the index's ``kinds``.
        stored: Written as a featureviz blob summary (a ``metadata.KINDS`` entry); False for scalars only.
        summary_op: The writer's summary op, ``module:function`` (``tb_featureviz.summary`` needs TensorFlow,
            so it is named here, not imported).
        writer_task: The kind's writer task when it is drawn as an extra, ``module:function``: the function takes
            the bound visualizer and returns a :class:`tb_featureviz.writer.tasks.ExtraTask` (or None when the
            run's options leave the kind out). The visualizer prices it, lets the planner fit it into the budget
            and runs it; checks and exemplars predate this and are driven by the visualizer itself.
        record: The record's schema (a ``TypedDict``), or None where the kind stores no record of its own.
        scalar_prefixes: Scalar tags of the featureviz run that belong to the kind.
        index_fields: For a kind written once per run, the record fields its ``/index`` entry copies.
        export: How the export draws it; None: the export does not hold it as figures.
    """

    name: str
    tag_prefix: str
    label: str
    noun: str
    view: bool
    layered: bool = True
    stored: bool = True
    summary_op: str | None = None
    writer_task: str | None = None
    record: type | None = None
    scalar_prefixes: tuple[str, ...] = ()
    index_fields: tuple[str, ...] = ()
    export: ExportDrawing | None = field(default=None, repr=False)

    def tag(self, layer: str | None = None) -> str:
        """The tag of this kind for ``layer`` (per-layer kinds) or its one tag."""
        return self.tag_prefix + (layer or "") if self.layered else self.tag_prefix
