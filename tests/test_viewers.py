"""experimental.viewers.SimpleGraph: the DOT it writes, and rendering when
Graphviz's dot program exists (a clear error when it does not)."""
import re
import shutil

import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF

pytest.importorskip("graphviz")
from nablite.experimental.viewers import SimpleGraph  # noqa: E402


@pytest.fixture
def y():
    nn.clear_parameters()
    x = nn.Variable((2, 3, 4, 4))
    x.name = "x"
    h = PF.convolution(x, 4, (3, 3), name="c1")
    h = PF.batch_normalization(h, name="bn1")
    yield F.relu(h) + 1
    nn.clear_parameters()


def edges(source):
    return re.findall(r'^\s*(\S+) -> (\S+)$', source, re.M)


def test_dot_has_every_function_variable_and_edge(y):
    src = SimpleGraph().create_graphviz_digraph(y).source
    assert src.startswith("digraph {")
    for label in ["Convolution\nc1/conv", "BatchNormalization\nbn1/bn", "ReLU", "AddScalar"]:
        assert f'label="{label}"' in src or f"label={label}" in src, label
    # conv: x, W, b in, one out; BN: 5 in, 1 out; ReLU and AddScalar: 1 in, 1 out
    assert len(edges(src)) == 4 + 6 + 2 + 2
    assert src.count("fillcolor=pink") == 6  # W b beta gamma mean var
    assert "label=x " in src


def test_verbose_labels_shapes_and_arguments(y):
    src = SimpleGraph(verbose=True).create_graphviz_digraph(y).source
    assert "(4, 3, 3, 3), need_grad=True" in src
    assert '\\"batch_stat\\": true' in src and '\\"pad\\": [0, 0]' in src


def test_color_maps(y):
    src = SimpleGraph(fname_color_map={"ReLU": "gold"},
                      vname_color_map={"x": "cyan"}).create_graphviz_digraph(y).source
    assert re.search(r'"ReLU-\d+" \[label=ReLU color=gold', src)
    assert "fillcolor=cyan" in src


def test_save_dot(y, tmp_path):
    out = SimpleGraph().save(y, tmp_path / "g.dot", format="dot")
    assert out == str(tmp_path / "g.dot")
    text = (tmp_path / "g.dot").read_text()
    assert text.startswith("digraph {") and len(edges(text)) == 14


@pytest.mark.skipif(shutil.which("dot") is not None, reason="Graphviz's dot is installed")
def test_png_without_dot_says_how_to_get_it(y, tmp_path):
    import graphviz
    with pytest.raises(graphviz.ExecutableNotFound,  # what NNabla's viewer raises
                       match="SimpleGraph.save.*'dot'.*apt install graphviz"):
        SimpleGraph().save(y, tmp_path / "g")
    assert not (tmp_path / "g").exists()  # nothing half-written
    with pytest.raises(RuntimeError, match="SimpleGraph.view"):
        SimpleGraph(format="svg").view(y)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_png_with_dot(y, tmp_path):
    out = SimpleGraph().save(y, tmp_path / "g")
    assert out.endswith("g.png")
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
