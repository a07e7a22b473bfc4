"""The sidecar: ``featureviz watch`` draws featureviz summaries from checkpoints, off the training machine."""
