"""The plugin's routes in process: a werkzeug client over TensorBoard's WSGI app, no server.

The ``client`` fixture of ``conftest.py`` makes one :class:`Client` per data provider; build query strings
with :func:`tests.support.routes.q`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test
from werkzeug import wrappers

from tb_featureviz.plugin import plugin as plugin_lib
from tests.support import logdir_factory
from tests.support.routes import PLUGIN_ROUTE


class Client:
    """A werkzeug client over a TensorBoardWSGI app holding only the featureviz plugin."""

    def __init__(self, dp: Any, logdir: str, sampling_hints: dict[str, int] | None = None) -> None:
        ctx = base_plugin.TBContext(logdir=logdir, data_provider=dp, sampling_hints=sampling_hints or {})
        self.plugin = plugin_lib.FeatureVizPlugin(ctx)
        app = application.TensorBoardWSGI([self.plugin], data_provider=dp)
        self.client = werkzeug_test.Client(app, wrappers.Response)

    def get(self, path: str) -> wrappers.Response:
        return self.client.get(path if path.startswith("/data/") else PLUGIN_ROUTE + path)

    def json(self, path: str, status: int = 200) -> Any:
        resp = self.get(path)
        assert resp.status_code == status, (path, resp.status_code, resp.data[:300])
        assert resp.content_type == "application/json", resp.content_type
        return json.loads(resp.data)

    def png(self, url: str) -> np.ndarray:
        resp = self.get("/" + url)
        assert resp.status_code == 200, (url, resp.data[:200])
        assert resp.content_type == "image/png"
        return logdir_factory.decode_png(resp.data)
