"""The base of hook callbacks: objects handing out ``pre_hook``/``post_hook``
callables for ``forward(function_pre_hook=..., function_post_hook=...)``."""


class FunctionHookCallbackBase:
    """Subclasses give ``pre_hook`` and ``post_hook`` properties returning callables."""

    @property
    def pre_hook(self):
        raise NotImplementedError(f"{type(self).__name__} has no pre_hook")

    @property
    def post_hook(self):
        raise NotImplementedError(f"{type(self).__name__} has no post_hook")
