// The Grad-CAM measures of `/scalars` (`checks`: faithfulness/* and sanity/*), grouped into the charts that
// plot them beside loss and accuracy, with what each measure says. Pure: plain data in, plain data out.
//
// One chart per group; in it, one line per run (the run's colour) and measure (its dash pattern), a marker
// at each epoch that has a measure (the measures may be drawn at some epochs only), and a footnote that
// says which epochs have them and which measures are not measured yet.

/**
 * @typedef {import('./types.js').ScalarsDoc} ScalarsDoc
 * @typedef {import('./chart.js').ChartSeries} ChartSeries
 */

/**
 * One measure: its scalar tag, a short label, its line style and how to read it.
 * @typedef {Object} CheckMeasure
 * @property {string} tag  E.g. "faithfulness/deletion_auc".
 * @property {string} label
 * @property {'solid'|'dashed'|'dotted'} style
 * @property {string} note  How to read it (the key's tooltip).
 */

/**
 * A chart of measures that share a range.
 * @typedef {Object} CheckGroup
 * @property {string} id  The tag prefix ("faithfulness").
 * @property {string} title
 * @property {[number, number]} domain  The range the y axis always covers.
 * @property {string} caption  One line under the title.
 * @property {CheckMeasure[]} measures
 */

/** @type {CheckGroup[]} */
export const CHECK_GROUPS = [
  {
    id: 'faithfulness',
    title: 'Grad-CAM faithfulness',
    domain: [0, 1],
    caption: 'Do the maps point at what the model uses? Deletion low, insertion and pointing high are good.',
    measures: [
      {tag: 'faithfulness/deletion_auc', label: 'deletion AUC', style: 'dashed',
        note: 'Deletion AUC, lower is better: removing the pixels the map ranks first makes the class score fall fast.'},
      {tag: 'faithfulness/insertion_auc', label: 'insertion AUC', style: 'solid',
        note: 'Insertion AUC, higher is better: inserting the pixels the map ranks first brings the class score back fast.'},
      {tag: 'faithfulness/pointing_game', label: 'pointing game', style: 'dotted',
        note: "Pointing game, higher is better: the share of probes whose map peaks inside the object's box."},
    ],
  },
  {
    id: 'sanity',
    title: 'Grad-CAM sanity',
    domain: [-1, 1],
    caption: 'Randomisation near 1 is bad: the map ignores the learned weights. Drift near 1: attention settled.',
    measures: [
      {tag: 'sanity/randomization_spearman', label: 'randomisation', style: 'solid',
        note: 'Model randomisation (Spearman), near 1 is BAD: re-initialising the top layers barely changes the ' +
          'map, so it does not depend on what was learned. A trained model should be at most 0.3.'},
      {tag: 'sanity/drift_spearman', label: 'drift', style: 'dashed',
        note: "Drift (Spearman with the previous logged epoch's map): near 1 means the attention has settled."},
    ],
  },
];

/**
 * The measure of `tag` in `group`: a known one, or one named after the tag (a measure this page does not
 * know yet still gets a line).
 * @param {CheckGroup} group
 * @param {string} tag
 * @returns {CheckMeasure}
 */
export function measureOf(group, tag) {
  return group.measures.find((m) => m.tag === tag) ||
    {tag, label: tag.slice(group.id.length + 1).replace(/_/g, ' '), style: 'solid', note: tag};
}

/**
 * `"0, 9"`, `"0–9"` (every epoch from 0 to 9), `"0, 2, 4, …, 18, 20"`: a sorted list of epochs in words.
 * @param {number[]} epochs  Sorted, distinct.
 * @returns {string}
 */
export function epochList(epochs) {
  const n = epochs.length;
  if (n >= 3 && epochs[n - 1] - epochs[0] === n - 1) return `${epochs[0]}–${epochs[n - 1]}`;
  if (n <= 8) return epochs.join(', ');
  return `${epochs.slice(0, 3).join(', ')}, …, ${epochs.slice(-2).join(', ')} (${n} epochs)`;
}

/**
 * What a chart of measures says under its plot: at which epochs the measures exist ("measured at epochs
 * 0, 9"), a measure drawn at fewer of them ("pointing game at epoch 9"), and each measure of the group that
 * has no point yet ("drift: not measured yet").
 * @param {CheckGroup} group
 * @param {ChartSeries[]} series  The chart's series (each with at least one finite point).
 * @param {CheckMeasure[]} measures  The measures drawn.
 * @returns {string}
 */
export function measuredNote(group, series, measures) {
  const epochsOf = (list) => [...new Set(list.flatMap((s) => s.points.filter((p) => Number.isFinite(p[1])).map((p) => p[0])))]
    .sort((a, b) => a - b);
  const all = epochsOf(series);
  const parts = [];
  if (all.length) parts.push(`measured at epoch${all.length === 1 ? '' : 's'} ${epochList(all)}`);
  for (const m of measures) {
    const own = epochsOf(series.filter((s) => s.tag === m.tag));
    if (own.length && own.length < all.length) parts.push(`${m.label} at epoch${own.length === 1 ? '' : 's'} ${epochList(own)}`);
  }
  for (const m of group.measures) {
    if (!measures.some((x) => x.tag === m.tag)) parts.push(`${m.label}: not measured yet`);
  }
  return parts.join(' · ');
}

/**
 * The check charts of `runs`: each group that some run has points for, with one series per run and
 * measure (points `[epoch, value]`), in group order, runs in the given order, measures in group order. A
 * measure with no finite point is left out of the series and the key (the footnote says it is not measured
 * yet); `footnote` says which epochs have measures (`measuredNote`).
 * @param {Map<string, ScalarsDoc>} scalars  Run -> its `/scalars` document.
 * @param {string[]} runs
 * @param {(run: string) => string} colorOf
 * @returns {Array<{group: CheckGroup, measures: CheckMeasure[], series: ChartSeries[], footnote: string}>}
 */
export function checkCharts(scalars, runs, colorOf) {
  const out = [];
  for (const group of CHECK_GROUPS) {
    const series = [];
    const measures = [];
    for (const run of runs) {
      const checks = ((scalars.get(run) || {}).checks || []).filter((c) => c.tag.startsWith(`${group.id}/`));
      for (const c of checks) {
        const points = c.points.map((p) => [p[0], p[2]]);
        if (!points.some((p) => Number.isFinite(p[1]))) continue;
        const m = measureOf(group, c.tag);
        if (!measures.some((x) => x.tag === m.tag)) measures.push(m);
        series.push({run, split: 'check', style: m.style, label: m.label, tag: c.tag, color: colorOf(run), points});
      }
    }
    if (!series.length) continue;
    const rank = (tag) => {
      const i = group.measures.findIndex((m) => m.tag === tag);
      return i < 0 ? group.measures.length : i;
    };
    measures.sort((a, b) => rank(a.tag) - rank(b.tag));
    series.sort((a, b) => runs.indexOf(a.run) - runs.indexOf(b.run) || rank(a.tag) - rank(b.tag));
    out.push({group, measures, series, footnote: measuredNote(group, series, measures)});
  }
  return out;
}
