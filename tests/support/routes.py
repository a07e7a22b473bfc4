"""HTTP helpers for the plugin's routes on a running TensorBoard (see ``server.py``).

* :data:`PLUGIN_ROUTE`: the plugin's route prefix.
* ``http_get(url)``: ``(status, headers, body)`` of a GET, 4xx/5xx answers included; ``http_json(url)``: the
  JSON of a 200 answer.
* ``q(**params)``: a query string.

The in-process client (no server) is :class:`tests.support.wsgi.Client`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

PLUGIN_ROUTE = "/data/plugin/featureviz"


def http_get(url: str, timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(url: str) -> Any:
    status, _, body = http_get(url)
    if status != 200:
        raise AssertionError(f"GET {url} -> {status}: {body[:300]!r}")
    return json.loads(body)


def q(**params: Any) -> str:
    return urllib.parse.urlencode(params)
