"""The summary report: what a person hands in, as a document of numbered figures and tables.

:func:`build_summary` turns a collected :class:`~tb_featureviz.export.content.Report` into a :class:`Document`:

1. **Summary**: the runs' facts and hyper-parameters (Table 1), the training curves, the Grad-CAM checks and
   what they say in words, and what the budget left out;
2. **Final epoch**: one activation grid per resolution stage, the filter patterns of each filter layer, and
   every probe's Grad-CAM for the predicted and the true class, wrong predictions badged;
3. **How it changed**: filmstrips across the exported epochs (at most six) for the channels that changed most,
   for filters and for every probe's Grad-CAM;

with the runs side by side where several are exported. Each figure is a drawing (``tb_featureviz.export.charts``)
with a number, an anchor and a caption that can be cited. The HTML writer (``html.py``), the PDF writer
(``pdf.py``) and the single-figure PNG/SVG writer (``writers.py``) lay the same document out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from tb_featureviz.export import charts
from tb_featureviz.export.charts import FigureLike, GridImage, Panel
from tb_featureviz.export.content import EXPORT_KINDS, Figure, Report, RunExport
from tb_featureviz.export.figures import DEFAULT_COLORMAP, OVERLAY_COLORMAP, crop_tile, figure_pixels
from tb_featureviz.export.options import ExportOptions
from tb_featureviz.kinds import REGISTRY, ExportDrawing
from tb_featureviz.metadata import CHECKS_TASK, probe_label
from tb_featureviz.render import apply_colormap, decode_png

if TYPE_CHECKING:
    from tb_featureviz.metadata import Record


GRID_COLUMNS = 32
"""Activation grids are laid out again with this many columns, so a deep layer's tiles stay legible on a page."""

FILMSTRIP_PIXELS = 100
"""A filmstrip frame larger than this (a Grad-CAM overlay at input size) is shrunk to it: a frame prints about
0.8 inches wide, and a report of 8 probes across 6 epochs stays a few megabytes."""

FILMSTRIP_ITEMS = 4
"""Channels (and filters) a filmstrip follows."""

RANDOMISATION_LIMIT = 0.3
"""A trained model's Grad-CAM should correlate at most this much with its randomised copy's (Adebayo et al.)."""


@dataclass(frozen=True)
class FigureBlock:
    """One numbered figure.

    Attributes:
        anchor: Its id (``fig-3``), for links and file names.
        number: Its number in the document.
        title: A short title (the table of contents' entry).
        caption: The caption, citeable as it stands.
        height: Its height in inches at :data:`~tb_featureviz.export.charts.TEXT_WIDTH_IN` wide.
        draw: Draws it into a figure or a page region.
        kind: What it shows (``curves``, ``checks``, ``activations``, ``filters``, ``gradcam``, ``filmstrip``).
        slug: A file-name-friendly name (``training-curves``).
    """

    anchor: str
    number: int
    title: str
    caption: str
    height: float
    draw: Callable[[FigureLike], None]
    kind: str
    slug: str


@dataclass(frozen=True)
class TableBlock:
    """A numbered table: a header row and rows of text."""

    anchor: str
    number: int
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class TextBlock:
    """A paragraph (``note``: smaller and muted)."""

    text: str
    style: str = "p"


Block = FigureBlock | TableBlock | TextBlock


@dataclass
class Section:
    """A section: a heading with an anchor, and its blocks."""

    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """The whole report.

    Attributes:
        title: The document's title.
        meta: One-line facts under the title (runs, logdir, epochs, generated).
        sections: The sections in order.
        damaged: Lines naming stored images left out because their bytes are damaged.
    """

    title: str
    meta: list[str]
    sections: list[Section]
    damaged: list[str] = field(default_factory=list)

    @property
    def figures(self) -> list[FigureBlock]:
        """Every figure, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, FigureBlock)]

    def contents(self) -> list[tuple[int, str, str]]:
        """The table of contents: ``(level, anchor, text)``, sections at level 1 and their figures and tables at 2."""
        out: list[tuple[int, str, str]] = []
        for s in self.sections:
            out.append((1, s.anchor, s.title))
            for b in s.blocks:
                if isinstance(b, FigureBlock):
                    out.append((2, b.anchor, f"Figure {b.number}. {b.title}"))
                elif isinstance(b, TableBlock):
                    out.append((2, b.anchor, f"Table {b.number}. {b.title}"))
        return out


class Numbers:
    """Numbers the figures and tables of a document in order."""

    def __init__(self) -> None:
        self.figure = 0
        self.table = 0

    def next_figure(self) -> tuple[int, str]:
        self.figure += 1
        return self.figure, f"fig-{self.figure}"

    def next_table(self) -> tuple[int, str]:
        self.table += 1
        return self.table, f"table-{self.table}"


def _figure(
    numbers: Numbers, title: str, caption: str, height: float, draw: Callable[[FigureLike], None], kind: str
) -> FigureBlock:
    number, anchor = numbers.next_figure()
    slug = "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:60]
    return FigureBlock(anchor, number, title, caption, height, draw, kind, slug)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join("None" if v is None else str(v) for v in value) + ")"
    return str(value)


def _optimizer(info: Record) -> str | None:
    opt = info.get("optimizer")
    if not isinstance(opt, dict):
        return None
    lr = opt.get("learning_rate")
    text = str(opt.get("name") or "")
    if lr is not None:
        text += f", learning rate {_fmt(lr)}"
    return text or None


def facts_rows(run: RunExport) -> list[tuple[str, str]]:
    """The facts of one run: model, parameters, input, optimizer, classes, epochs and hyper-parameters."""
    info = run.info or {}
    space = info.get("input_space") if isinstance(info.get("input_space"), dict) else {}
    rows: list[tuple[str, object]] = [
        ("Model", info.get("model")),
        ("Parameters", f"{info['params']:,}" if isinstance(info.get("params"), int) else info.get("params")),
        ("Input shape", info.get("input_shape")),
        ("Input pixels", (space or {}).get("description")),
        ("Optimizer", _optimizer(info)),
        ("Classes", ", ".join(run.class_names) if run.class_names else None),
        ("Epochs recorded", f"{len(run.steps)} ({run.steps[0]}-{run.steps[-1]})" if run.steps else None),
    ]
    hparams = info.get("hparams") if isinstance(info.get("hparams"), dict) else {}
    shown = {"optimizer", "learning_rate"}  # in the Optimizer row; epochs and image size are in the rows above
    if run.steps:
        shown.add("epochs")
    if info.get("input_shape"):
        shown.update({"image_size", "input_shape"})
    if info.get("model") is not None:
        shown.update(k for k, v in (hparams or {}).items() if str(v) == str(info.get("model")))
    rows += [(str(k), v) for k, v in sorted((hparams or {}).items()) if k not in shown]
    return [(k, _fmt(v)) for k, v in rows if v not in (None, "", {}, [])]


def _facts_table(numbers: Numbers, runs: Sequence[RunExport]) -> TableBlock:
    per_run = [dict(facts_rows(r)) for r in runs]
    keys: list[str] = []
    for facts in per_run:
        keys += [k for k in facts if k not in keys]
    number, anchor = numbers.next_table()
    header = ("", *(r.run for r in runs)) if len(runs) > 1 else ("", runs[0].run)
    rows = tuple((k, *(f.get(k, "-") for f in per_run)) for k in keys)
    title = "The run: model, data and training settings" if len(runs) == 1 else "The runs side by side"
    return TableBlock(anchor, number, title, header, rows)


def _last_point(run: RunExport, tag: str) -> tuple[int, float] | None:
    for c in run.checks:
        if c.metric == tag and c.points:
            return c.points[-1].step, c.points[-1].value
    return None


def check_epochs(run: RunExport) -> list[int]:
    """The epochs at which any Grad-CAM measure was drawn."""
    return sorted({p.step for c in run.checks for p in c.points})


def light_epochs(run: RunExport) -> list[int]:
    """The epochs whose Grad-CAM checks were light draws (a subset of the full measures' steps)."""
    return sorted(e for e, d in run.check_draws.items() if d.get("variant") == "light")


def checks_verdict(run: RunExport) -> str:
    """What the Grad-CAM checks say, in words, at the last epoch that has them.

    Example:
        >>> from tb_featureviz.export.content import Curve, CurvePoint
        >>> run = RunExport(run="a", steps=[0, 9], epochs=[9], checks=[
        ...     Curve("faithfulness/deletion_auc", "check", (CurvePoint(9, 0.1),)),
        ...     Curve("faithfulness/insertion_auc", "check", (CurvePoint(9, 0.8),)),
        ...     Curve("sanity/randomization_spearman", "check", (CurvePoint(9, 0.05),))])
        >>> print(checks_verdict(run))  # doctest: +NORMALIZE_WHITESPACE
        a, measured at epoch 9. Deleting the pixels the map ranks highest drops the class score to an area of 0.1,
        against 0.8 when they are inserted first: the map points at evidence the model uses. With the weights
        randomised the map changes (rank correlation 0.05, at most 0.3 is expected of a trained model): it depends
        on what the model learned.
    """
    epochs = check_epochs(run)
    if not epochs:
        return f"{run.run}: no Grad-CAM checks were measured, so how far the maps can be trusted is not known."
    where = f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {', '.join(map(str, epochs))}"
    parts = [f"{run.run}, measured at {where}."]
    deletion = _last_point(run, "faithfulness/deletion_auc")
    insertion = _last_point(run, "faithfulness/insertion_auc")
    if deletion and insertion:
        d, i = deletion[1], insertion[1]
        at = "" if deletion[0] == epochs[-1] else f" (epoch {deletion[0]})"
        if d < i:
            parts.append(
                f"Deleting the pixels the map ranks highest drops the class score to an area of {d:.2g}{at}, against "
                f"{i:.2g} when they are inserted first: the map points at evidence the model uses."
            )
        else:
            parts.append(
                f"Deleting the pixels the map ranks highest leaves an area of {d:.2g}{at}, no lower than the {i:.2g} "
                "of inserting them first: the map does not yet point at what the model uses; read it with care."
            )
    pointing = _last_point(run, "faithfulness/pointing_game")
    if pointing:
        parts.append(f"The map's peak falls on the object in {pointing[1]:.0%} of the probes (pointing game).")
    rand = _last_point(run, "sanity/randomization_spearman")
    if rand:
        r = rand[1]
        if r <= RANDOMISATION_LIMIT:
            parts.append(
                f"With the weights randomised the map changes (rank correlation {r:.2g}, at most {RANDOMISATION_LIMIT} "
                "is expected of a trained model): it depends on what the model learned."
            )
        else:
            parts.append(
                f"With the weights randomised the map barely changes (rank correlation {r:.2g}, above "
                f"{RANDOMISATION_LIMIT}): it reflects the architecture and the image more than what was learned."
            )
    drift = _last_point(run, "sanity/drift_spearman")
    if drift:
        settled = "has settled" if drift[1] >= 0.9 else "is still moving"
        parts.append(f"Between checks the map {settled} (rank correlation {drift[1]:.2g} with the previous one).")
    return " ".join(parts)


def budget_note(run: RunExport) -> str | None:
    """What the budget left out at the last exported epoch, in one sentence (None when nothing, or no record)."""
    plan = run.plan or {}
    skipped = plan.get("skipped")
    if not isinstance(skipped, dict) or not skipped:
        return None
    layers = [k for k in skipped if "/" not in k and k not in (CHECKS_TASK, "exemplars")]
    other = [k for k in skipped if "/" in k]
    bits = []
    if layers:
        first = str(skipped[layers[0]])
        bits.append(f"the filter patterns of {', '.join(layers)} ({first} for {layers[0]})")
    if other:
        bits.append(f"{len(other)} activation grid(s)")
    for k, name in ((CHECKS_TASK, "the Grad-CAM checks"), ("exemplars", "the exemplars")):
        if k in skipped:
            bits.append(f"{name} ({skipped[k]})")
    fraction = (plan.get("budget") or {}).get("fraction")
    share = f" of {fraction:.0%} of training time" if isinstance(fraction, (int, float)) else ""
    return (
        f"{run.run}: at epoch {plan.get('epoch', run.epochs[-1])} the budget{share} left out " + "; ".join(bits) + "."
    )


def _runs_epochs(runs: Sequence[RunExport]) -> list[int]:
    return sorted({e for r in runs for e in r.steps})


def _summary_section(numbers: Numbers, runs: Sequence[RunExport]) -> Section:
    section = Section("summary", "Summary")
    section.blocks.append(_facts_table(numbers, runs))
    pairs = [(r.run, r.curves) for r in runs]
    epochs = _runs_epochs(runs)
    metrics = charts.metric_order({c.metric for r in runs for c in r.curves})
    if metrics:
        lr = " The learning rate is on a log axis." if "learning_rate" in metrics else ""
        splits = "solid: training, dashed: validation" if len(runs) == 1 else "one colour per run"
        section.blocks.append(
            _figure(
                numbers,
                "Training curves",
                f"{', '.join(charts.metric_title(m) for m in metrics)} per epoch ({splits}).{lr}",
                2.1,
                partial(charts.draw_curves, runs=pairs, epochs=epochs),
                "curves",
            )
        )
    check_pairs = [(r.run, r.checks) for r in runs]
    if any(r.checks for r in runs):
        measured = "; ".join(
            f"{r.run + ': ' if len(runs) > 1 else ''}epochs {', '.join(map(str, check_epochs(r))) or 'none'}"
            for r in runs
        )
        light = {r.run: light_epochs(r) for r in runs}
        light_note = ""
        draw = next((d for r in runs for d in r.check_draws.values() if d.get("variant") == "light"), None)
        full = next((d for r in runs for d in r.check_draws.values() if d.get("variant") == "full"), {})
        if draw is not None:
            steps = f"{draw.get('steps')}" + (f" of {full['steps']}" if full.get("steps") else "")
            copies = f"{draw.get('random_draws')}" + (f" of {full['random_draws']}" if full.get("random_draws") else "")
            light_note = (
                f" Hollow markers are light draws between the full ones ({steps} deletion/insertion steps, "
                f"{copies} randomised copies); filled markers are the full measures."
            )
        section.blocks.append(
            _figure(
                numbers,
                "Can the Grad-CAM maps be trusted?",
                "Faithfulness (deletion AUC low, insertion AUC and pointing game high are good) and sanity (a rank "
                "correlation with the randomised model's map near 0 is good; drift near 1 means the map has "
                f"settled). A marker is a measured epoch ({measured}); lines join measured epochs only.{light_note}",
                2.1,
                partial(charts.draw_checks, runs=check_pairs, epochs=epochs, light=light),
                "checks",
            )
        )
    section.blocks.extend(TextBlock(checks_verdict(r)) for r in runs)
    return section


def _newest(run: RunExport, kind: str, layer: str, role: str = "grid") -> list[Figure]:
    figs = [f for f in run.figures if f.kind == kind and f.layer == layer and f.role == role]
    if not figs:
        return []
    last = max(f.epoch for f in figs)
    return [f for f in figs if f.epoch == last]


def stage_layers(run: RunExport) -> list[str]:
    """The layers the summary shows activation grids of: one per resolution stage (the run's stage
    representatives), else every activation layer, in the run's order."""
    have = list(dict.fromkeys(f.layer for f in run.figures if f.kind == "activations"))
    stages = (run.stages or {}).get("list") or []
    chosen = [str(s.get("activations")) for s in stages if s.get("activations") in have]
    return chosen or have


def _grid_image(fig: Figure, options: ExportOptions, run: RunExport) -> GridImage:
    cmap = options.colormap or DEFAULT_COLORMAP
    gray = decode_png(fig.png)
    layout = fig.layout
    rgb = apply_colormap(gray, cmap) if gray.ndim == 2 else np.ascontiguousarray(gray[..., :3])
    dead_tiles: tuple[int, ...] = ()
    if layout is not None and layout.height == rgb.shape[0] and layout.width == rgb.shape[1]:
        cols = GRID_COLUMNS if fig.kind == "activations" else max(layout.cols, min(GRID_COLUMNS, layout.count))
        rgb, layout = charts.retile(rgb, layout, cols)
        channels = fig.tile_channels or tuple(range(layout.count))
        dead_tiles = tuple(i for i, c in enumerate(channels) if c in set(fig.dead))
    else:
        layout = None
    detail = fig.grid_summary(plain=True) or ""
    epoch = f"epoch {fig.epoch}"
    title = f"{fig.layer} · {detail} · {epoch}" if detail else f"{fig.layer} · {epoch}"
    rel = fig.relative_text(plain=True)  # filters: how hard the patterns drive their filters
    title += f" · {rel}" if rel else ""
    return GridImage(title, rgb, layout, dead_tiles, gid=f"grid-{run.run}-{fig.kind}-{fig.layer}")


def flat_heatmap(run: RunExport, overlay: Figure) -> bool:
    """Whether the Grad-CAM heatmap behind ``overlay`` is one value everywhere: no position of the layer raises
    the class score, so the map points at nothing (said in the title rather than drawn as a uniform wash)."""
    heat = run.heatmap_for(overlay)
    if heat is None:
        return False
    pixels = decode_png(heat.png)
    return bool(pixels.size) and int(pixels.max()) == int(pixels.min())


def _gradcam_rows(run: RunExport, figs: Sequence[Figure], options: ExportOptions) -> tuple[list[list[Panel]], int]:
    """Two probes per row: (probe image, predicted class, true class) each; the number of wrong predictions."""
    by_probe: dict[int, dict[str, Figure]] = {}
    for f in figs:
        if f.probe is not None and f.role == "overlay":
            by_probe.setdefault(f.probe, {})[f.target or "predicted"] = f
    cells: list[list[Panel]] = []
    wrong = 0
    for probe in sorted(by_probe):
        views = by_probe[probe]
        name = run.probe_label(probe)
        png = run.probe_png(probe)
        image = Panel(
            decode_png(png)[..., :3] if png else None, probe_label(probe, name), gid=f"probe-{run.run}-{probe}"
        )
        triple = [image]
        predicted = views.get("predicted")
        is_wrong = bool(
            predicted is not None
            and predicted.predicted_class is not None
            and name is not None
            and predicted.predicted_class != name
        )
        wrong += is_wrong
        for target in ("predicted", "true"):
            view = views.get(target)
            if view is None:
                triple.append(Panel(None, f"{target}: -"))
                continue
            f = view
            cls = f.class_name if f.class_name is not None else str(f.class_index)
            score = "" if f.score is None else f" {f.score:.2f}"
            badge = "WRONG" if target == "predicted" and is_wrong else ""
            triple.append(
                Panel(
                    figure_pixels(f, options, run),
                    f"{target}: {cls}{score}",
                    badge,
                    gid=f"gradcam-{run.run}-{probe}-{target}",
                    note="flat map" if flat_heatmap(run, f) else "",
                )
            )
        cells.append(triple)
    rows = [cells[i] + (cells[i + 1] if i + 1 < len(cells) else []) for i in range(0, len(cells), 2)]
    return rows, wrong


def _final_section(numbers: Numbers, runs: Sequence[RunExport], options: ExportOptions) -> Section:
    last = max((r.epochs[-1] for r in runs if r.epochs), default=0)
    section = Section("final", f"Final epoch ({last})" if len(runs) == 1 else "Final epoch")
    section.blocks.extend(TextBlock(n, "note") for r in runs if (n := budget_note(r)))
    for run in runs:
        who = f"{run.run}: " if len(runs) > 1 else ""
        for drawing in _drawings():
            if drawing.summary_final is not None:
                section.blocks.extend(drawing.summary_final(numbers, run, who, options))
    return section


def _drawings() -> list[ExportDrawing]:
    """The export drawings of the exported kinds, in display order (``tb_featureviz.kinds``)."""
    return [d for name in EXPORT_KINDS if (d := REGISTRY[name].export) is not None]


def final_activations(numbers: Numbers, run: RunExport, who: str, options: ExportOptions) -> list[FigureBlock]:
    """The activation grids of the stage layers at their last exported epoch, for the chosen probe."""
    cmap = options.colormap or DEFAULT_COLORMAP
    probe = options.probe if options.probe is not None else 0
    grids = []
    for layer in stage_layers(run):
        figs = [f for f in _newest(run, "activations", layer) if f.probe == probe]
        if figs:
            grids.append(_grid_image(figs[0], options, run))
    if not grids:
        return []
    label = probe_label(probe, run.probe_label(probe))
    return [
        _figure(
            numbers,
            f"{who}Activations, one layer per resolution stage",
            f"{who}Every channel of each stage's layer for {label}, at the layer's last exported epoch; "
            f"each channel scaled to its own range in {cmap} (low to high). Tiles in the map's lowest colour "
            f"({charts.LOWEST_COLOUR_NAMES.get(cmap, 'lowest colour')}) vary nowhere in this image; outlined "
            "tiles are dead channels (zero for every probe); separators are neutral grey.",
            min(charts.grids_height(grids), 9.4),
            partial(charts.draw_grids, grids=grids, cmap=cmap),
            "activations",
        )
    ]


def final_filters(numbers: Numbers, run: RunExport, who: str, options: ExportOptions) -> list[FigureBlock]:
    """The filter patterns of each layer at its last exported epoch."""
    blocks = []
    for layer in list(dict.fromkeys(f.layer for f in run.figures if f.kind == "filters")):
        figs = _newest(run, "filters", layer)
        if not figs:
            continue
        grid = _grid_image(figs[0], options, run)
        rel = figs[0].relative_text(plain=True)
        blocks.append(
            _figure(
                numbers,
                f"{who}Filter patterns of {layer}",
                f"{who}For each filter of {layer}, the input pattern that maximises its mean activation (gradient "
                f"ascent in input space, shown in display RGB) at epoch {figs[0].epoch}"
                + (f"; {rel}." if rel else "."),
                min(charts.grids_height([grid], key=False), 9.4),
                partial(charts.draw_grids, grids=[grid], cmap=None),
                "filters",
            )
        )
    return blocks


def final_gradcam(numbers: Numbers, run: RunExport, who: str, options: ExportOptions) -> list[FigureBlock]:
    """Each probe's Grad-CAM for the predicted and the true class at each layer's last exported epoch."""
    blocks = []
    for layer in list(dict.fromkeys(f.layer for f in run.figures if f.kind == "gradcam")):
        figs = _newest(run, "gradcam", layer, "overlay")
        rows, wrong = _gradcam_rows(run, figs, options)
        if not rows:
            continue
        overlay_map = options.colormap or OVERLAY_COLORMAP
        verdict = f"{wrong} of {len({f.probe for f in figs})} probes are predicted wrongly (badged WRONG)."
        blocks.append(
            _figure(
                numbers,
                f"{who}Grad-CAM at {layer}",
                f"{who}Grad-CAM (Selvaraju et al., 2017) at {layer}, epoch {figs[0].epoch}: for each probe, the "
                f"regions that drove the predicted and the true class's score (heat in {overlay_map} over the "
                f"image), with the model's probability; a flat map (one value everywhere) points at nothing. "
                f"{verdict if wrong else 'Every probe is predicted right.'}",
                charts.panels_height(rows),
                partial(charts.draw_panels, rows=rows, missing="not drawn"),
                "gradcam",
            )
        )
    return blocks


def thumbnail(pixels: np.ndarray, size: int = FILMSTRIP_PIXELS) -> np.ndarray:
    """``pixels`` shrunk (Lanczos) so the longer side is at most ``size``; smaller images are kept as they are."""
    h, w = pixels.shape[:2]
    if max(h, w) <= size:
        return pixels
    from PIL import Image

    scale = size / max(h, w)
    image = Image.fromarray(pixels).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS
    )
    return np.asarray(image)


def _tile(fig: Figure, tile: int, cmap: str) -> np.ndarray | None:
    """Tile ``tile`` of a grid figure as RGB (grayscale through ``cmap``), or None when it has no such tile."""
    if fig.layout is None or tile >= fig.layout.count:
        return None
    crop = crop_tile(decode_png(fig.png), fig.layout, tile)
    return apply_colormap(crop, cmap) if crop.ndim == 2 else np.ascontiguousarray(crop[..., :3])


def _filter_indices(fig: Figure) -> tuple[int, ...]:
    return fig.filters or tuple(range(fig.layout.count if fig.layout else 0))


def _shared_filters(figs: Iterable[Figure], count: int = FILMSTRIP_ITEMS) -> list[int]:
    """The first ``count`` filters drawn at every one of ``figs``' epochs."""
    sets = [set(_filter_indices(f)) for f in figs]
    return sorted(set.intersection(*sets))[:count] if sets else []


def _filter_tile(fig: Figure | None, filt: int) -> np.ndarray | None:
    """Filter ``filt``'s pattern in a filter grid, or None when that epoch did not draw it."""
    if fig is None or filt not in _filter_indices(fig):
        return None
    return _tile(fig, _filter_indices(fig).index(filt), DEFAULT_COLORMAP)


def changed_channels(first: Figure, last: Figure, count: int = FILMSTRIP_ITEMS) -> list[int]:
    """The tiles of a layer whose picture changed most between two epochs (mean absolute difference of the
    stored, per-channel normalised tiles), dead channels left out."""
    layout = first.layout
    if layout is None or last.layout != layout:
        return []
    a, b = decode_png(first.png).astype(np.float64), decode_png(last.png).astype(np.float64)
    if a.shape != b.shape:
        return []
    channels = first.tile_channels or tuple(range(layout.count))
    scores = []
    for k in range(layout.count):
        if k < len(channels) and channels[k] in set(last.dead):
            continue
        x, y = layout.tile_origin(k)
        sl = (slice(y, y + layout.tile_height), slice(x, x + layout.tile_width))
        scores.append((float(np.abs(a[sl] - b[sl]).mean()), k))
    return [k for _, k in sorted(scores, key=lambda s: (-s[0], s[1]))[:count]]


def _changes_section(numbers: Numbers, runs: Sequence[RunExport], options: ExportOptions) -> Section:
    section = Section("changes", "How it changed")
    for run in runs:
        if len(run.epochs) < 2:
            continue
        who = f"{run.run}: " if len(runs) > 1 else ""
        for drawing in _drawings():
            if drawing.summary_changes is not None:
                section.blocks.extend(drawing.summary_changes(numbers, run, who, options))
    return section


def changes_activations(numbers: Numbers, run: RunExport, who: str, options: ExportOptions) -> list[FigureBlock]:
    """A filmstrip of the channels of the middle stage layer that changed most (or the chosen one)."""
    cmap = options.colormap or DEFAULT_COLORMAP
    probe = options.probe if options.probe is not None else 0
    epochs = run.epochs
    layers = stage_layers(run)
    if not layers:
        return []
    layer = layers[len(layers) // 2]
    by_epoch = {f.epoch: f for f in run.figures if f.kind == "activations" and f.layer == layer and f.probe == probe}
    have = sorted(e for e in by_epoch if e in epochs)
    if len(have) < 2:
        return []
    first, last = by_epoch[have[0]], by_epoch[have[-1]]
    tiles = [options.channel] if options.channel is not None else changed_channels(first, last)
    channels = first.tile_channels or tuple(range(first.layout.count if first.layout else 0))
    rows = [
        [
            Panel(_tile(by_epoch[e], t, cmap) if e in by_epoch else None, gid=f"film-{run.run}-{layer}-{t}-{e}")
            for e in epochs
        ]
        for t in tiles
    ]
    labels = [f"channel {channels[t] if t < len(channels) else t}" for t in tiles]
    chosen = "the one chosen" if options.channel is not None else "the four whose maps changed most"
    return [
        _figure(
            numbers,
            f"{who}Channels of {layer} across epochs",
            f"{who}{layer}, {probe_label(probe, run.probe_label(probe))}: {chosen} between epochs "
            f"{have[0]} and {have[-1]}, each frame scaled to its own range in {cmap}.",
            charts.panels_height(rows, col_labels=True, row_labels=True),
            partial(charts.draw_panels, rows=rows, row_labels=labels, col_labels=[f"epoch {e}" for e in epochs]),
            "filmstrip",
        )
    ]


def changes_filters(numbers: Numbers, run: RunExport, who: str, options: ExportOptions) -> list[FigureBlock]:
    """A filmstrip of a few filters drawn at every epoch (or the chosen one) of the last filter layer."""
    epochs = run.epochs
    blocks = []
    for layer in list(dict.fromkeys(f.layer for f in run.figures if f.kind == "filters"))[-1:]:
        by_epoch = {f.epoch: f for f in run.figures if f.kind == "filters" and f.layer == layer}
        picks = [options.channel] if options.channel is not None else _shared_filters(by_epoch.values())
        if len(by_epoch) < 2 or not picks:
            continue
        rows = [[Panel(_filter_tile(by_epoch.get(e), filt)) for e in epochs] for filt in picks]
        blocks.append(
            _figure(
                numbers,
                f"{who}Filter patterns of {layer} across epochs",
                f"{who}The patterns of filters {', '.join(map(str, picks))} of {layer} at each exported epoch "
                "(an empty frame: the budget did not draw that filter then).",
                charts.panels_height(rows, col_labels=True, row_labels=True),
                partial(
                    charts.draw_panels,
                    rows=rows,
                    row_labels=[f"filter {p}" for p in picks],
                    col_labels=[f"epoch {e}" for e in epochs],
                ),
                "filmstrip",
            )
        )
    return blocks


def changes_gradcam(numbers: Numbers, run: RunExport, who: str, options: ExportOptions) -> list[FigureBlock]:
    """A filmstrip of each probe's Grad-CAM for the predicted class, per Grad-CAM layer."""
    blocks = []
    for layer in list(dict.fromkeys(f.layer for f in run.figures if f.kind == "gradcam")):
        overlays = [f for f in run.figures if f.kind == "gradcam" and f.layer == layer and f.role == "overlay"]
        probes = sorted({f.probe for f in overlays if f.probe is not None and f.target == "predicted"})
        if not probes:
            continue
        rows = [_cam_film_row(run, overlays, p, options) for p in probes]
        labels = [probe_label(p, run.probe_label(p)) for p in probes]
        blocks.append(
            _figure(
                numbers,
                f"{who}Grad-CAM of each probe across epochs",
                f"{who}Grad-CAM at {layer} for the predicted class of each probe at each exported epoch; the class "
                "the model predicted is written above, WRONG where it is not the probe's true class.",
                charts.panels_height(rows, col_labels=True, row_labels=True),
                partial(
                    charts.draw_panels, rows=rows, row_labels=labels, col_labels=[f"epoch {e}" for e in run.epochs]
                ),
                "filmstrip",
            )
        )
    return blocks


def _cam_film_row(run: RunExport, overlays: Sequence[Figure], p: int, options: ExportOptions) -> list[Panel]:
    """Probe ``p``'s predicted-class overlay at each exported epoch (an empty panel where there is none)."""
    row = []
    for e in run.epochs:
        f = next((o for o in overlays if o.probe == p and o.epoch == e and o.target == "predicted"), None)
        if f is None:
            row.append(Panel(None))
            continue
        wrong = f.predicted_class is not None and run.probe_label(p) not in (None, f.predicted_class)
        row.append(
            Panel(
                thumbnail(figure_pixels(f, options, run)),
                f.predicted_class or "",
                "WRONG" if wrong else "",
                gid=f"film-cam-{run.run}-{p}-{e}",
            )
        )
    return row


def build_summary(report: Report, options: ExportOptions, *, title: str | None = None) -> Document:
    """The summary-first report of a collected export.

    Args:
        report: What the collector read (a summary plan: every curve, a few epochs' images).
        options: The colour map, probe and channel.
        title: The document title (default "Feature visualisation report").

    Returns:
        The document, its figures numbered in order.
    """
    runs = report.runs
    numbers = Numbers()
    epochs = sorted({e for r in runs for e in r.epochs})
    meta = [
        f"{'Run' if len(runs) == 1 else 'Runs'} {', '.join(r.run for r in runs)}",
        f"logdir {report.logdir}" if report.logdir else "",
        f"epochs {', '.join(map(str, epochs))} shown" if epochs else "",
        f"generated {report.generated.strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    sections = [_summary_section(numbers, runs), _final_section(numbers, runs, options)]
    changes = _changes_section(numbers, runs, options)
    if changes.blocks:
        sections.append(changes)
    sections = [s for s in sections if s.blocks]
    return Document(
        title=title or "Feature visualisation report",
        meta=[m for m in meta if m],
        sections=sections,
        damaged=[d.describe() for d in report.damaged],
    )
