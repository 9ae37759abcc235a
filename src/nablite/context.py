"""Contexts: where new arrays live and in which precision (NNabla's ``Context``)."""
import contextlib
from typing import Any, Iterator, Sequence

from . import backend


class Context:
    """A backend list such as ``['cpu:float']``, an array class and a device id."""

    def __init__(self, backend: Sequence[str] | None = None, array_class: str = "",
                 device_id: str | int = "0") -> None:
        self.backend = list(backend) if backend is not None else ["cpu:float"]
        self.array_class = array_class
        self.device_id = str(device_id)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Context) and self.backend == other.backend
                and self.array_class == other.array_class
                and self.device_id == other.device_id)

    def __repr__(self) -> str:
        return (f"Context(backend={self.backend}, array_class='{self.array_class}', "
                f"device_id='{self.device_id}')")

    @property
    def half(self) -> bool:
        """Whether functions compute in float16 (type_config 'half' or 'mixed_half')."""
        return self.backend[0].endswith("half")

    @property
    def double(self) -> bool:
        """Whether functions compute each float input in its own precision, so
        float64 data in float64 (nablite's type_config 'double', for numerical
        work such as gradient checks; NNabla has none). In 'float' contexts, as
        in NNabla's, float64 inputs are read as float32."""
        return self.backend[0].endswith(":double")

    @property
    def backend_name(self) -> str:
        """'cpu', 'cuda' or 'cudnn': the first entry without its type config."""
        return self.backend[0].split(":")[0]


_current = Context()
_scope_depth = 0


# NNabla's list of the extensions loaded so far: get_extension_context('cuda' or
# 'cudnn') adds its name once it has found CuPy and the GPU.
available_contexts = ["cpu"]


def add_available_context(ctx: str) -> None:
    if ctx not in available_contexts:
        available_contexts.append(ctx)


def prefer_cached_array(prefer: bool) -> None:
    """NNabla's choice between its pooled and plain array allocators. nablite has
    no allocator of its own (NumPy allocates host arrays; on a GPU, CuPy's memory
    pool always caches device memory), so the choice changes nothing; it is taken
    so that scripts calling it run."""
    if not isinstance(prefer, (bool, int)):
        raise TypeError(f"prefer_cached_array: prefer must be a bool, got "
                        f"{type(prefer).__name__} {prefer!r}")


def reset_array_preference() -> None:
    """Undo ``prefer_cached_array`` (nothing to undo here: see there)."""


def get_current_context() -> Context:
    """The context new functions, parameters and solvers use."""
    return _current


def set_default_context(ctx: Context) -> None:
    """Set the global default context (not allowed inside ``context_scope``)."""
    global _current
    if _scope_depth:
        raise AssertionError("set_default_context: cannot be called inside context_scope")
    if not isinstance(ctx, Context):
        raise TypeError(f"set_default_context: ctx must be a Context, got {type(ctx).__name__}")
    _select(ctx, "set_default_context")
    _current = ctx


@contextlib.contextmanager
def context_scope(ctx: Context) -> Iterator[None]:
    """Use ``ctx`` as the current context inside the ``with`` block."""
    global _current, _scope_depth
    if not isinstance(ctx, Context):
        raise TypeError(f"context_scope: ctx must be a Context, got {type(ctx).__name__}")
    device = _select(ctx, "context_scope")
    previous, _current = _current, ctx
    _scope_depth += 1
    try:
        yield
    finally:
        _current = previous
        _scope_depth -= 1
        if device is not None:
            backend.restore_device(ctx.backend_name, device)


def _select(ctx, caller):
    """Make ``ctx``'s GPU current (``backend.select_device``); errors name ``caller``."""
    try:
        return backend.select_device(ctx)
    except (RuntimeError, ValueError) as e:
        raise type(e)(f"{caller}: {ctx}: {e}") from None
