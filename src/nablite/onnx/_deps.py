"""The optional ``onnx`` / ``onnxruntime`` packages, imported when first needed,
and the opsets each direction handles."""

OPSETS = range(11, 18)  # the ONNX default-domain opsets export writes
DEFAULT_OPSET = 17
# the opsets import reads: files below 13 are first upgraded to 13 by ONNX's own
# version converter; from 13 on the rules read each operator's later forms
# (axes as inputs, Split's num_outputs, ...); opsets 22-28 only added types
IMPORT_OPSETS = range(7, 29)
UPGRADE_TO = 13


def require_onnx(what="nablite.onnx"):
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f'{what} needs the onnx package: pip install "nablite[onnx]"') from e
    return onnx
