"""The writer side, in the order the data flows; it needs a Keras backend.

* ``callback``: ``FeatureVizCallback``, the Keras hooks (times the epoch, picks probes, decides chief-only).
* ``options``: ``WriterOptions``, what to draw, validated once; the one declaration of every writer option.
* ``visualizer``: plan -> compute on the training thread -> queue the writes (shared with ``featureviz watch``).
* ``planner``: pure; what an epoch computes from measured costs and the budget.
* ``stages``: pure; one layer per resolution stage and the filter rotation.
* ``tasks``: the filter passes and the extra tasks the planner adds when the budget has room.
* ``probes``: probe selection and the run facts (``run_info``).
* ``worker``: the background worker that renders, writes and flushes in order.
* ``distributed``: which process writes (the chief).
"""
