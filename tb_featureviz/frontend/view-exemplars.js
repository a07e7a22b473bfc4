// The exemplars kind's view: in the enlarged tile of a grid (gridpanel.js), the crops of the sample images
// the channel responds to most. The DOM is exemplars.js's.

import {exemplarsNote, exemplarsView} from './exemplars.js';
import {entryFor} from './facts.js';
import {cropBox} from './layout.js';
import {fetchStep, loadImage} from './model.js';
import {exemplarsOf, stepAtOrBefore} from './records.js';

/** @typedef {import('./types.js').RunInfo} RunInfo */

/**
 * Fills the drill-down's exemplars block: the crops of the sample images that channel `channel` of `layer`
 * responds to most, from the newest exemplars record at or before `epoch`. Nothing when the run wrote no
 * exemplars for the layer.
 * @param {{exemplars: HTMLElement}} dd
 * @param {string} run
 * @param {RunInfo|null} info
 * @param {string} layer
 * @param {number} channel
 * @param {number} epoch
 */
export async function fillDrilldown(dd, run, info, layer, channel, epoch) {
  const entry = entryFor(info, 'exemplars', layer);
  const sample = info && info.sample;
  if (!entry || !sample) return;
  const show = (node) => { dd.exemplars.replaceChildren(node); dd.exemplars.hidden = false; };
  const step = stepAtOrBefore(entry.steps, epoch);
  if (step === null) {
    show(exemplarsNote(`No exemplars of ${layer} yet at epoch ${epoch} (first at epoch ${entry.steps[0]}).`));
    return;
  }
  try {
    const record = (await fetchStep(run, entry.tag, step)).record || {};
    const list = exemplarsOf(record, channel);
    if (!list) {
      show(exemplarsNote(`Channel ${channel} has no exemplars at epoch ${step}.`));
      return;
    }
    const items = await Promise.all(list.map(async (e) => {
      try {
        if (!sample.images[e.image]) throw new Error(`no sample image ${e.image}`);
        const img = await loadImage(sample.images[e.image]);
        return {...e, img, box: cropBox(e.y, e.x, record.size, img.naturalHeight || img.height, img.naturalWidth || img.width)};
      } catch (err) {
        return {...e, img: null, box: null, damaged: Boolean(err && err.damaged)};
      }
    }));
    show(exemplarsView({channel, items, step, epoch, sample: record.sample || sample.count}));
  } catch (e) {
    show(exemplarsNote(`Could not load the exemplars: ${e && e.message ? e.message : e}`));
  }
}

