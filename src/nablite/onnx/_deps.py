"""The optional ``onnx`` / ``onnxruntime`` packages, imported when first needed."""

OPSETS = range(13, 18)  # the ONNX default-domain opsets export and import support
DEFAULT_OPSET = 17


def require_onnx(what="nablite.onnx"):
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f'{what} needs the onnx package: pip install "nablite[onnx]"') from e
    return onnx
