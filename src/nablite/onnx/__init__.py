"""ONNX both ways: nablite graphs to ``.onnx`` files and back.

- ``export(outputs, path, inputs=None, opset=17)`` writes the graph that
  computes ``outputs`` (parameters become initializers), checked by
  ``onnx.checker``; ``export_rules`` is the table of what maps to what
  (``supported_table()`` prints it as the README's Markdown table).
- ``import_model(path_or_model, batch_size=None, scope=None)`` rebuilds an
  ONNX graph (e.g. one written by ``torch.onnx.export``) with nablite's
  functions and returns an ``OnnxNetwork`` with ``.inputs`` / ``.outputs`` /
  ``.variables`` dicts, as ``NnpLoader.get_network`` does.
- ``nnp_to_onnx`` / ``onnx_to_nnp``: the file converters ``nablite convert``
  calls.

Needs the ``onnx`` package (``pip install "nablite[onnx]"``); importing this
module does not.
"""
from .exporter import export, export_rules, supported_table
from .importer import OnnxImportError, OnnxNetwork, import_model, import_rules
from .convert import nnp_to_onnx, onnx_to_nnp

__all__ = ["export", "import_model", "nnp_to_onnx", "onnx_to_nnp", "supported_table",
           "export_rules", "import_rules", "OnnxNetwork", "OnnxImportError"]
