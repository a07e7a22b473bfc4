// The checks kind's view: the Grad-CAM measures (faithfulness/* and sanity/*) as charts beside the curves,
// one per group of measures (checks.js), each with a key that says how to read its measures.

import {checkCharts} from './checks.js';
import * as views from './views.js';

/** @typedef {import('./types.js').ScalarsDoc} ScalarsDoc */

/**
 * The charts of the measures of `runs`, as `[key, {title, series, domain, id, note, footnote}]` (index.js
 * draws them after the curves).
 * @param {Map<string, ScalarsDoc>} scalars
 * @param {string[]} runs
 * @param {(run: string) => string} colorOf
 * @returns {Array<[string, Object]>}
 */
export function chartSpecs(scalars, runs, colorOf) {
  const specs = [];
  for (const {group, measures, series, footnote} of checkCharts(scalars, runs, colorOf)) {
    // The key names the measures, so a chart is made again when a measure appears.
    specs.push([`check:${group.id}:${measures.map((m) => m.tag).join(',')}`, {title: group.title, series, footnote,
      domain: group.domain, id: `check:${group.id}`, note: () => views.checkKey(group.caption, measures)}]);
  }
  return specs;
}
