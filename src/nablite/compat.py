"""The ``nnabla`` import alias: run NNabla scripts unchanged on nablite.

``install()`` makes ``import nnabla`` (and every ``nnabla.x.y``) resolve to
``nablite`` (``nablite.x.y``), ``nnabla_ext.*`` (NNabla's extension packages)
to ``nablite.ext.*``, and ``import tiny_digits`` (the tutorial's helper)
to ``nablite.datasets.tiny_digits`` unless a local file of that name exists.
It is installed only by ``nablite run`` or an explicit call, and it refuses to
shadow a real NNabla that is already imported.
"""
import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Any, Dict, Optional, Sequence

_ALIASES = {"nnabla": "nablite", "nnabla_ext": "nablite.ext"}
_RENAMES: Dict[str, str] = {}  # nnabla.x.y -> nablite.x.y covers every module so far
_FALLBACKS = {"tiny_digits": "nablite.datasets.tiny_digits"}
# Submodules the package attribute of the same name hides: ``nnabla.logger`` is
# NNabla's Logger object (what ``import nnabla.logger as logger`` reads) while
# sys.modules["nnabla.logger"] is the module (for ``from nnabla.logger import
# logger``). Loading such a module through the finder would make the import
# system bind the module over the package attribute, so install() registers
# them as already loaded.
_PRELOADED = {"nnabla.logger": "nablite.logger"}


def _target(fullname: str, table: Dict[str, str]) -> Optional[str]:
    if fullname in _RENAMES:
        return _RENAMES[fullname]
    for alias, real in table.items():
        if fullname == alias or fullname.startswith(alias + "."):
            return real + fullname[len(alias):]
    return None


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, table: Dict[str, str]) -> None:
        self.table = table

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Any:
        real = _target(fullname, self.table)
        if real is None or importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> ModuleType:
        real = _target(spec.name, self.table)
        assert real is not None  # find_spec made the spec only for a target
        return importlib.import_module(real)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the real module is already executed


_front = _AliasFinder(_ALIASES)
_back = _AliasFinder(_FALLBACKS)


def install() -> None:
    """Make ``import nnabla`` load nablite in this process."""
    real = sys.modules.get("nnabla")
    if real is not None and not getattr(real, "__name__", "").startswith("nablite"):
        raise RuntimeError("compat.install: a real NNabla is already imported in this "
                           "process; nablite will not shadow it")
    for alias, name in _PRELOADED.items():
        sys.modules.setdefault(alias, importlib.import_module(name))
    if _front not in sys.meta_path:
        sys.meta_path.insert(0, _front)
    if _back not in sys.meta_path:
        sys.meta_path.append(_back)


def uninstall() -> None:
    """Remove the alias and forget the aliased modules."""
    for finder in (_front, _back):
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
    for name in list(sys.modules):
        if _target(name, _ALIASES) or name in _FALLBACKS:
            del sys.modules[name]


def restore_legacy_numpy_aliases() -> None:
    """Give back the NumPy 1.x names that NNabla-era scripts use and NumPy 1.24
    and 2.x removed: ``np.int``, ``np.float``, ``np.bool``... (``astype(np.int)``
    in the tutorials), ``np.product``, ``np.float_``, ``np.NaN``, ``np.asfarray``
    and the like. ``nablite run`` restores them for the script's process only,
    so such code runs unchanged; a name NumPy still has is left alone.
    """
    import builtins
    import numpy as np
    for name in ("int", "float", "bool", "object", "complex", "str"):
        if name not in np.__dict__:
            setattr(np, name, getattr(builtins, name))
    for name, value in _numpy_1_names(np).items():
        if name not in np.__dict__:
            setattr(np, name, value)


def _numpy_1_names(np: Any) -> Dict[str, Any]:
    """NumPy 2's replacement for each name it removed (the same meaning)."""
    def asfarray(a: Any, dtype: Any = np.float64) -> Any:
        dtype = np.dtype(dtype)
        return np.asarray(a, dtype=dtype if dtype.kind in "fc" else np.float64)

    def in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False,
             **kw: Any) -> Any:
        return np.isin(ar1, ar2, assume_unique=assume_unique, invert=invert, **kw).ravel()

    return {
        "product": np.prod, "cumproduct": np.cumprod, "sometrue": np.any, "alltrue": np.all,
        "round_": np.round, "asscalar": lambda a: a.item(), "asfarray": asfarray,
        "mat": np.asmatrix, "msort": lambda a: np.sort(a, axis=0), "in1d": in1d,
        "trapz": getattr(np, "trapezoid", None),
        "float_": np.float64, "complex_": np.complex128, "cfloat": np.complex128,
        "longfloat": np.longdouble, "unicode_": np.str_, "string_": np.bytes_,
        "int0": np.intp, "uint0": np.uintp, "bool8": np.bool_,
        "Inf": np.inf, "Infinity": np.inf, "infty": np.inf, "PINF": np.inf, "NINF": -np.inf,
        "NaN": np.nan, "PZERO": 0.0, "NZERO": -0.0,
    }


def log_like_nnabla() -> None:
    """Configure the root logger as ``import nnabla`` does (INFO, NNabla's console
    format, stderr), so that an NNabla script's own loggers print too. Only
    ``nablite run`` calls this: importing nablite leaves the root logger alone
    (the ``nablite`` logger has its own console handler, see nablite/logger.py)."""
    import logging
    from .logger import CONSOLE_FORMAT
    logging.basicConfig(level=logging.INFO, format=CONSOLE_FORMAT)
