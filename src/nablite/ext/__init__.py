"""NNabla's extension packages under nablite (``nnabla_ext.*`` under ``nablite run``).

``nablite.ext.cpu`` is ``nnabla_ext.cpu`` and ``nablite.ext.cuda`` (with
``cuda.cudnn`` and ``cuda.nvtx``) is ``nnabla_ext.cuda``: each module's
``context()`` is ``get_extension_context`` of its name, and the device helpers
are ``nablite.ext_utils``'. As with NNabla's, importing the CUDA one where it
cannot run (no CuPy, no GPU) raises ImportError saying which, so scripts'
``try: import nnabla_ext.cuda except ImportError:`` fall back to the CPU.
"""
