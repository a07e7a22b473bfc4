"""The viewer side runs without TensorFlow: import the plugin and serve routes where TF cannot load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_plugin_serves_without_tensorflow(tmp_path: object) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules["tensorflow"] = None  # any `import tensorflow` raises ImportError
        from tests.support import logdir_factory  # the repository root is the working directory
        from tensorboard.backend import application
        from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
        from tensorboard.plugins import base_plugin
        from werkzeug import test as werkzeug_test, wrappers
        from tb_featureviz import reader  # noqa: F401
        from tb_featureviz.plugin import loader, plugin  # noqa: F401

        spec = logdir_factory.write_logdir(sys.argv[1], epochs=2)
        m = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"featureviz": 0})
        m.AddRunsFromDirectory(spec.root)
        m.Reload()
        dp = data_provider.MultiplexerDataProvider(m, spec.root)
        ctx = base_plugin.TBContext(logdir=spec.root, data_provider=dp, sampling_hints={})
        fv = loader.FeatureVizLoader().load(ctx)
        client = werkzeug_test.Client(application.TensorBoardWSGI([fv], data_provider=dp), wrappers.Response)
        index = client.get("/data/plugin/featureviz/index")
        step = client.get("/data/plugin/featureviz/step?run=exp1&tag=activations/conv2d&step=1")
        blob = client.get("/data/plugin/featureviz/" + step.json["images"][0])
        loaded = sorted(n for n in sys.modules if n == "tensorflow" or n.startswith("tensorflow.") or n == "keras")
        print(json.dumps({"index": index.status_code, "runs": [r["run"] for r in index.json["runs"]],
                          "blob": [blob.status_code, blob.content_type], "tf": [n for n in loaded
                          if sys.modules[n] is not None]}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"index": 200, "runs": ["exp1"], "blob": [200, "image/png"], "tf": []}


def test_plugin_modules_do_not_import_tensorflow() -> None:
    """Importing the plugin package in a fresh interpreter (TF installed) loads no TensorFlow."""
    script = (
        "import sys; import tb_featureviz.plugin.loader, tb_featureviz.plugin.plugin, tb_featureviz.reader; "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
