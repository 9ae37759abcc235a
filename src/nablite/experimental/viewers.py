"""SimpleGraph: draw a graph of Variables and Functions with Graphviz.

The DOT source needs only the ``graphviz`` Python package (``pip install
"nablite[graph]"``); PNG, SVG and PDF also need Graphviz's ``dot`` program.
Variables are circles (parameters pink), functions boxes coloured by kind and
labelled with their type and parameter scope; ``verbose`` adds shapes,
need_grad and function arguments.
"""
import json
import os
import shutil

from .. import parameter as _parameter
from .._atomic_file import atomic_write
from ..graph import topological_order

_DOT_FORMATS = ("dot", "gv")
_KINDS = (
    ("blue", ("Affine", "Convolution", "Deconvolution", "DepthwiseConvolution",
              "DepthwiseDeconvolution", "FusedConvolution", "Embed", "RNN", "LSTM", "GRU")),
    ("green", ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "ELU", "SELU", "GELU", "Swish",
               "Softmax", "LogSoftmax", "PReLU", "ReLU6", "SoftPlus", "Mish", "HardTanh")),
    ("orange", ("BatchNormalization", "FusedBatchNormalization", "SyncBatchNormalization",
                "LayerNormalization", "InstanceNormalization", "GroupNormalization")),
    ("purple", ("MaxPooling", "AveragePooling", "SumPooling", "GlobalAveragePooling",
                "Unpooling")),
    ("red", ("SoftmaxCrossEntropy", "SigmoidCrossEntropy", "SquaredError", "HuberLoss",
             "BinaryCrossEntropy", "CategoricalCrossEntropy", "AbsoluteError")),
)
_FUNCTION_COLORS = {name: color for color, names in _KINDS for name in names}


def _digraph_class():
    try:
        from graphviz import Digraph
    except ImportError:
        raise ImportError('SimpleGraph needs the graphviz package: pip install "nablite[graph]"') \
            from None
    return Digraph


def require_dot(where, fmt):
    """Raise a clear error unless Graphviz's ``dot`` program is on PATH: the
    graphviz package's ExecutableNotFound (a RuntimeError), which NNabla's
    viewer raises there and its scripts catch."""
    if shutil.which("dot") is None:
        raise _dot_not_found(
            f"{where + ': ' if where else ''}drawing {fmt.upper()} needs Graphviz's 'dot' program, which is not on "
            f"PATH; install Graphviz (apt install graphviz, brew install graphviz, conda "
            f"install graphviz) or write the DOT source (format='dot', or a .dot file)")


def _dot_not_found(message):
    try:
        from graphviz import ExecutableNotFound
    except ImportError:
        return RuntimeError(message)
    error = ExecutableNotFound.__new__(ExecutableNotFound)
    RuntimeError.__init__(error, message)  # its own __init__ would write graphviz's text
    return error


class SimpleGraph:
    """Graphviz drawings of the graph up to a Variable.

    Args:
        format (str): output format when rendering ('png', 'svg', 'pdf', ...;
            'dot' writes the DOT source only).
        verbose (bool): label variables with shape and need_grad, and functions
            with their arguments.
        fname_color_map (dict): function type name -> colour, over the defaults.
        vname_color_map (dict): variable name -> fill colour.
    """

    def __init__(self, format="png", verbose=False, fname_color_map=None, vname_color_map=None):
        self._format = format
        self._verbose = verbose
        self._fname_color_map = dict(fname_color_map or {})
        self._vname_color_map = dict(vname_color_map or {})

    def _names(self, params):
        params = _parameter.get_parameters(grad_only=False) if params is None else params
        return {id(v._data): name for name, v in params.items()}

    def _variable_node(self, g, v, names, default):
        node = str(id(v))
        pname = names.get(id(v._data))
        name = pname.split("/")[-1] if pname else (getattr(v, "name", None) or default)
        label = name
        if self._verbose:
            label += f"\n{tuple(v.shape)}, need_grad={v.need_grad}"
        fill = self._vname_color_map.get(name, "pink" if pname else "lightgray")
        g.node(node, label=label, shape="ellipse" if self._verbose else "circle",
               style="filled", fillcolor=fill, color="black")
        return node

    def _function_label(self, f, names):
        scopes = sorted({"/".join(names[id(x._data)].split("/")[:-1]) for x in f.inputs
                         if id(x._data) in names} - {""})
        label = "\n".join([f.info.type_name] + scopes)
        if self._verbose:
            label += "\n" + json.dumps(f.info.args, default=str, sort_keys=True)
        return label

    def create_graphviz_digraph(self, vleaf, params=None, format=None):
        """A ``graphviz.Digraph`` of the graph up to ``vleaf``.

        Args:
            vleaf (Variable): the end of the graph.
            params (dict): name -> parameter Variable, to name parameters and
                scopes (default: every registered parameter).
            format (str): the Digraph's format (default: this SimpleGraph's).
        """
        g = _digraph_class()(format=format or self._format)
        g.attr("node", style="filled")
        names = self._names(params)
        for k, f in enumerate(topological_order([vleaf])):
            fnode = f"{f.info.type_name}-{k}"
            color = self._fname_color_map.get(f.info.type_name,
                                              _FUNCTION_COLORS.get(f.info.type_name, "black"))
            g.node(fnode, label=self._function_label(f, names), shape="box",
                   color=color, fillcolor=color, fontcolor="white")
            for x in f.inputs:
                g.edge(self._variable_node(g, x, names, "x" if x.parent is None else "h"), fnode)
            for y in f.outputs:
                if y is not None:
                    g.edge(fnode, self._variable_node(g, y, names, "h"))
        return g

    def save(self, vleaf, fpath, cleanup=False, format=None):
        """Write the graph up to ``vleaf``: the DOT source to ``fpath`` and,
        unless the format is 'dot', the drawing to ``fpath.<format>``.

        Args:
            vleaf (Variable): the end of the graph.
            fpath (str): path of the DOT source (the drawing adds the format's extension).
            cleanup (bool): delete the DOT source after rendering.
            format (str): 'png', 'svg', 'pdf', 'dot', ... (default: this SimpleGraph's).
        Returns:
            str: the path of the file written last (the drawing or the source).
        """
        fmt = format or self._format
        g = self.create_graphviz_digraph(vleaf, format=fmt)
        fpath = os.fspath(fpath)
        if fmt not in _DOT_FORMATS:
            require_dot("SimpleGraph.save", fmt)

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(g.source)
        atomic_write(fpath, write)
        if fmt in _DOT_FORMATS:
            return fpath
        out = f"{fpath}.{fmt}"
        atomic_write(out, lambda tmp: _render(g, fpath, tmp, fmt))
        if cleanup:
            os.remove(fpath)
        return out

    def view(self, vleaf, fpath=None, cleanup=True, format=None, params=None):
        """Render the graph up to ``vleaf`` and open it in the system's viewer.

        Args:
            vleaf (Variable): the end of the graph.
            fpath (str): path of the DOT source (default: a temporary file).
            cleanup (bool): delete the DOT source after rendering.
            format (str): 'png', 'svg', 'pdf', ... (default: this SimpleGraph's).
            params (dict): name -> parameter Variable, as in create_graphviz_digraph.
        """
        fmt = format or self._format
        require_dot("SimpleGraph.view", fmt)
        g = self.create_graphviz_digraph(vleaf, params=params, format=fmt)
        return g.view(filename=fpath, cleanup=cleanup)


def _render(g, source_path, out_path, fmt):
    import subprocess
    proc = subprocess.run(["dot", f"-T{fmt}", source_path, "-o", out_path],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"SimpleGraph.save: dot could not draw {fmt}: {proc.stderr.strip()}")
