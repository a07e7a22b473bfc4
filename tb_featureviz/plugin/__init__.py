"""The featureviz TensorBoard plugin. Imports only ``tensorboard``, never TensorFlow."""
