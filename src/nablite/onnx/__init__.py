"""ONNX both ways: nablite graphs to ``.onnx`` files and back.

- ``export(outputs, path, inputs=None, opset=17)`` writes the graph that
  computes ``outputs`` (parameters become initializers), checked by
  ``onnx.checker``; ``export_rules()`` is the table of what maps to what and
  ``supported_table()`` prints it as the README's Markdown table.
- ``import_model(path_or_model, batch_size=None, scope=None)`` rebuilds an
  ONNX graph (e.g. one written by ``torch.onnx.export``) with nablite's
  functions and returns an ``OnnxNetwork`` with ``.inputs`` / ``.outputs`` /
  ``.variables`` dicts, as ``NnpLoader.get_network`` does; ``import_rules()``
  lists the operators it reads. Hostile files fail with ``OnnxImportError``.
- ``nnp_to_onnx`` / ``onnx_to_nnp``: the file converters ``nablite convert``
  calls.

Layout: exporter.py (the walk and the emitter) with its rules in ops.py
(elementwise, arithmetic, logic, reductions, arrangement), ops_layers.py,
ops_tensors.py and ops_losses.py; importer.py (the walk) with its rules in
import_ops.py (and the constant folding) and import_layers.py; safe_load.py
(bounded reading of files); convert.py (.nnp <-> .onnx).

Needs the ``onnx`` package (``pip install "nablite[onnx]"``); importing this
module does not.
"""
from .convert import nnp_to_onnx, onnx_to_nnp
from .exporter import export, export_rules, supported_table
from .importer import OnnxNetwork, import_model, import_rules
from .ops import ExportError
from .safe_load import OnnxImportError

__all__ = ["export", "import_model", "nnp_to_onnx", "onnx_to_nnp", "supported_table",
           "export_rules", "import_rules", "OnnxNetwork", "OnnxImportError", "ExportError"]
