// JSDoc types of the documents the plugin's HTTP API answers (tb_featureviz/plugin/http_api.md) and of
// the dashboard's own state. Nothing here runs: other modules name these types with
// `import('./types.js').Name`, which the browser never loads.

/**
 * Geometry of a tiled grid image (`tb_featureviz.metadata.GridLayout`; see layout.js). Tile `k`
 * (row-major, `k < count`) has its top-left pixel at `((k % cols) * (tile_width + padding),
 * floor(k / cols) * (tile_height + padding))`; there is no outer border.
 * @typedef {Object} GridLayout
 * @property {number} rows
 * @property {number} cols
 * @property {number} tile_height
 * @property {number} tile_width
 * @property {number} padding  Pixels between tiles, >= 0.
 * @property {number} count  Tiles drawn, <= rows * cols (the last row may be partial).
 */

/**
 * One tag of a run in `/index` (`kinds.<kind>[]`).
 * @typedef {Object} TagEntry
 * @property {string} tag  E.g. "activations/conv2d".
 * @property {string} layer
 * @property {number[]} steps  The steps of this tag, sorted.
 * @property {number} images  Images per step (elements after the record).
 * @property {GridLayout|null} layout  `null` for Grad-CAM.
 * @property {Object<string, *>} extra  The tag's metadata `extra` (Grad-CAM: `class_names`, `targets`).
 */

/**
 * The probe images of a run in `/index`.
 * @typedef {Object} Probes
 * @property {number} count
 * @property {Array<number|null>|null} labels
 * @property {string[]|null} class_names
 * @property {number} [step]  Where they were written.
 * @property {string[]} [images]  Relative blob URLs of the probe images.
 */

/**
 * The sample images of a run in `/index` (the exemplars are crops of them).
 * @typedef {Object} Sample
 * @property {number} count
 * @property {number[]|null} labels
 * @property {number} step  Where they were written.
 * @property {string[]} images  Relative blob URLs (RGB PNGs at input resolution).
 */

/**
 * What `/index` says about one run (a group of TensorBoard runs that share a parent directory).
 * @typedef {Object} RunInfo
 * @property {string} run
 * @property {boolean} featureviz  Whether the run has FeatureViz data (else curves only).
 * @property {number[]} steps  Every step of any featureviz tag, sorted.
 * @property {boolean} [partial]  Listed only (a sweep's run not read in full yet): no steps, records or stages.
 * @property {number|null} [max_step]  A partial run's last step, from TensorBoard's listing.
 * @property {number|null} max_wall_time
 * @property {{activations?: TagEntry[], filters?: TagEntry[], gradcam?: TagEntry[], exemplars?: TagEntry[]}} kinds
 *     `exemplars` entries have no images and no layout (a record per step).
 * @property {Probes|null} probes
 * @property {Sample|null} [sample]  The images the exemplars are cut from, null without exemplars.
 * @property {Object<string, *>|null} run_info
 * @property {{state: string, message: string, exit_code: number, log_tail: string}|null} [status]  Why training
 *   stopped, when `featureviz demo` saw it fail.
 * @property {string[]} curves  Metric names with curves.
 * @property {'keras'|'featureviz'|null} curve_source
 * @property {Stages} [stages]  Missing from an older plugin.
 * @property {{featureviz: ?string, train: ?string, validation: ?string}} tb_runs
 */

/**
 * One resolution stage of a run (`stages.list` of `/index`; tb_featureviz/reader/alignment.py).
 * @typedef {Object} Stage
 * @property {number} stage  1 for the largest maps.
 * @property {number} height
 * @property {number} width
 * @property {string[]} layers  Its activation layers.
 * @property {string} activations  Its representative (the last layer of that size).
 * @property {string|null} filters  Its filter layer, if any.
 */

/**
 * A run's stages (`stages` of `/index`).
 * @typedef {Object} Stages
 * @property {number} count
 * @property {Stage[]} list
 * @property {string|null} gradcam  The run's Grad-CAM layer.
 * @property {Object<string, Array<number|null>>} align  `align[n][k - 1]`: this run's stage for stage k of n.
 */

/**
 * `GET index`: every run, sorted by name.
 * @typedef {Object} IndexDoc
 * @property {RunInfo[]} runs
 */

/**
 * Element 0 of `activations/<layer>`.
 * @typedef {Object} ActivationRecord
 * @property {number} probes
 * @property {number[]} dead  Channels that are zero for every probe image.
 * @property {number[]} shape  `[h, w, channels]` of the layer's output.
 * @property {number[]} [channels]  A reduced grid: tile `k` shows channel `channels[k]`.
 * @property {number} [scale]  Tiles shrunk `scale` times.
 * @property {number} [nonfinite]  NaN or inf values, drawn as 0.
 */

/**
 * The filter rotation of a filter record: the first `fixed` tiles are drawn at every pass, the rest are
 * filters `window[0]..window[1]` of the layer's `of`.
 * @typedef {Object} FilterSchedule
 * @property {number} fixed
 * @property {[number, number]} window
 * @property {number} of
 * @property {[number, number]|null} next
 * @property {number|null} next_epoch  `null`: not within the budget's rate.
 */

/**
 * Element 0 of `filters/<layer>`.
 * @typedef {Object} FilterRecord
 * @property {number[]} filters  The filter index of each tile.
 * @property {Array<number|null>} activation  The mean activation each pattern reaches (`null`: non-finite).
 * @property {number} size  Pattern size in pixels.
 * @property {number} [scale]
 * @property {FilterSchedule} [schedule]
 * @property {Array<number|null>} [relative]  Each pattern's activation over the probes' mean activation of
 *     its filter (`null`: the probes leave it silent).
 * @property {number} [relative_median]  Their median.
 * @property {number} [nonfinite]
 */

/**
 * Element 0 (the only one) of `exemplars/<layer>`: `exemplars[i]` are channel `channels[i]`'s best `k`
 * images of the `sample`, each `[image, y, x, value]` (the crop is `cropBox(y, x, size, H, W)`).
 * @typedef {Object} ExemplarsRecord
 * @property {number} k
 * @property {number} size
 * @property {number} sample
 * @property {number[]} channels
 * @property {Array<Array<[number, number, number, number|null]>>} exemplars
 */

/**
 * One class target of a Grad-CAM probe: `heatmap` and `overlay` index the blob sequence, so the heatmap is
 * `StepDoc.images[heatmap - 1]`.
 * @typedef {Object} GradcamTarget
 * @property {string} target  "predicted", "true" or another target name.
 * @property {number} class
 * @property {number|null} score  The model's probability for `class` (`null`: non-finite).
 * @property {number} heatmap
 * @property {number|null} overlay
 */

/**
 * @typedef {Object} GradcamProbe
 * @property {number} probe
 * @property {number|null} true
 * @property {number} predicted
 * @property {number[]} probabilities
 * @property {GradcamTarget[]} targets
 */

/**
 * Element 0 of `gradcam/<layer>`.
 * @typedef {Object} GradcamRecord
 * @property {GradcamProbe[]} probes
 * @property {number} [nonfinite]
 */

/**
 * `GET step?run=&tag=&step=`: the record of one step and the relative URLs of its images (`images[i]` is
 * element `i + 1` of the blob sequence).
 * @typedef {Object} StepDoc
 * @property {string} run
 * @property {string} tag
 * @property {number} step
 * @property {number} wall_time
 * @property {ActivationRecord|FilterRecord|GradcamRecord|ExemplarsRecord} record
 * @property {string[]} images
 */

/**
 * `GET series?run=&tag=&index=`: one image across every epoch that has it.
 * @typedef {Object} SeriesDoc
 * @property {string} run
 * @property {string} tag
 * @property {number} index
 * @property {number[]} steps
 * @property {number[]} wall_times
 * @property {string[]} images
 */

/**
 * One curve of `/scalars`: points are `[step, wall_time, value]`.
 * @typedef {Object} ScalarSeries
 * @property {string} metric
 * @property {'train'|'validation'} split
 * @property {Array<[number, number, number]>} points
 */

/**
 * `GET scalars?run=`.
 * @typedef {Object} ScalarsDoc
 * @property {string} run
 * @property {'keras'|'featureviz'|null} [source]
 * @property {ScalarSeries[]} series
 * @property {Array<{layer: string, points: Array<[number, number, number]>}>} [health]
 * @property {Array<{tag: string, points: Array<[number, number, number]>}>} [checks]  The Grad-CAM measures
 *     (`faithfulness/*`, `sanity/*`), plotted by checks.js.
 */

/**
 * `GET export_progress?job=`.
 * @typedef {Object} ExportProgress
 * @property {string} job
 * @property {'running'|'done'|'failed'} state
 * @property {'read'|'render'} phase
 * @property {number} done
 * @property {number} total
 * @property {string} what
 */

/**
 * What Export sends for the view on show (model.js `exportUrl`).
 * @typedef {Object} ExportView
 * @property {string[]} runs
 * @property {string|null} kind  null: every kind (the summary report)
 * @property {string|null} layer  The shared layer, or null when every run has its own (`layers`).
 * @property {Object<string, string>} layers  Run -> its layer, where it is not `layer`.
 * @property {'all'|number} epochs
 * @property {number|null} probe
 * @property {string|null} colormap
 * @property {number|null} channel
 * @property {number|null} scale
 */

/**
 * The view state (state.js `defaultState`): what is on screen, mirrored in the URL.
 * @typedef {Object} ViewState
 * @property {string[]} runs  Selected runs, in selection order.
 * @property {string} kind  "activations", "filters" or "gradcam".
 * @property {string|null} layer  The shared layer (runs that share their layer names).
 * @property {string|null} stage  The shared stage "k/n" (runs of different architectures).
 * @property {Object<string, string>} picks  Run -> its own layer, picked in its panel.
 * @property {number} probe
 * @property {number|null} epoch  `null`: the latest.
 * @property {string} cmap
 * @property {string} zoom  "fit" or an integer factor as a string.
 * @property {number} opacity  Grad-CAM heatmap opacity, 0..1.
 * @property {boolean} follow  Keep the newest epoch on show.
 * @property {number|null} channel  Drilled-down channel or filter index (never a tile position).
 * @property {string} filter  The run list's filter: a name substring, or `/regex/` (facts.js `runFilter`).
 * @property {string|null} group  The `run_info` key the run list is grouped by (facts.js `groupKeys`).
 * @property {boolean|null} compact  Compact panels; null: automatic (state.js `COMPACT_AUTO`).
 */

/**
 * state.js `createStore`.
 * @typedef {Object} Store
 * @property {() => ViewState} get
 * @property {(patch: Partial<ViewState>) => void} set  Notifies subscribers with the keys that changed.
 * @property {(fn: (state: ViewState, changed: Set<string>) => void) => () => void} subscribe
 */

/**
 * A run's panel (views.js `panel`) and what the panel controller keeps about it.
 * @typedef {Object} PanelState
 * @property {HTMLElement} element
 * @property {HTMLElement} title
 * @property {HTMLElement} subtitle
 * @property {HTMLElement} facts  The run's facts line (model, parameters, input pixels).
 * @property {HTMLElement} alert  One line above the body when the run's training stopped with an error.
 * @property {HTMLElement} body
 * @property {HTMLElement} detail
 * @property {HTMLSelectElement} layerPick  The run's own layer (shown when several runs are on show).
 * @property {HTMLElement} layerNote  The stage of the layer on show, for runs of different architectures.
 * @property {number} seq  Bumped by each update; an update whose seq is no longer current draws nothing.
 * @property {number|null} channelShown  The channel or filter drilled down at this epoch, or null.
 * @property {boolean|null} visible  Whether it is in view (IntersectionObserver; null until it says).
 * @property {boolean} dirty  It has an update to make once it scrolls into view.
 * @property {number|null} [zoomRoom]  The width its grid may take (`views.zoomRoom`), measured once per layout.
 */

/**
 * What panels.js hands a tab kind's `render` (kinds.js): one panel's update.
 * @typedef {Object} PanelContext
 * @property {App} app
 * @property {PanelState} p  The panel.
 * @property {string} run
 * @property {RunInfo} info  The run's `/index` entry when the update started.
 * @property {TagEntry} entry  The tag the panel shows; it has `epoch`.
 * @property {number} epoch
 * @property {(nodes: Node[], sub: string, detail?: Node[]) => void} show  Fills the panel unless stale.
 * @property {() => boolean} stale  Whether a newer update overtook this one (it then draws nothing).
 * @property {() => void} drawn  To call once the panel shows its picture (the `featureviz:first-grid` mark).
 */

/**
 * The dashboard's one state object (index.js `createApp`); every field is declared there.
 * @typedef {Object} App
 * @property {Store} store  The view state.
 * @property {Object<string, *>} ui  The element references of views.js `shell`.
 * @property {IndexDoc|null} index  The last `/index`, null before the first answer.
 * @property {string} indexText  Its JSON text (change detection).
 * @property {number} [pollSeq]  The number of the last `/index` request sent.
 * @property {number} [pollShown]  The number of the request whose answer is on show (older answers are dropped).
 * @property {Error|null} error  Why the last poll failed, or null.
 * @property {Map<string, ScalarsDoc>} scalars  Run -> curves.
 * @property {Map<string, string>} scalarsText  Run -> JSON text of its curves (change detection).
 * @property {Map<string, {element: HTMLElement, update: Function, setCursor: Function}>} charts  Chart key (a
 *     metric, or a group of Grad-CAM measures) -> chart.
 * @property {Map<string, PanelState>} panels  Run -> panel.
 * @property {number|null} playTimer  The interval of Play, or null.
 * @property {boolean} firstGridMarked  Whether the `featureviz:first-grid` mark was set.
 * @property {Object<string, number>} slots  Selected run -> its colour slot (facts.js `assignSlots`).
 * @property {Object<string, [number, number]>|null} groupSlots  Grouped run list: selected run -> its group
 *     and slot in it (facts.js `groupedSlots`); null when not grouped (or too many to tell apart).
 * @property {string|null} hoverRun  The run the pointer is on (its curves drawn bold), or null.
 * @property {boolean} didAutoSelect  Whether a run was picked for the user once runs appeared.
 * @property {Date|null} lastPoll
 * @property {string|null} exporting  The format being exported, or null.
 */

export {};
