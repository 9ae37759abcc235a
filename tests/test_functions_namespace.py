"""The F namespace: functions/__init__.py imports every public function by name.

F's public names must be exactly the union of the category modules' ``__all__``,
and each name must be the object defined in (or exported by) its own module.
"""
import importlib
import pkgutil

import nablite.functions as F

# Modules under nablite.functions that are machinery, not categories of F.
NOT_CATEGORIES = {"base"}


def _category_modules():
    mods = []
    for info in pkgutil.iter_modules(F.__path__):
        if info.name.startswith("_") or info.name in NOT_CATEGORIES:
            continue
        mods.append(importlib.import_module(f"nablite.functions.{info.name}"))
    return mods


def test_all_is_union_of_category_alls():
    union = [name for m in _category_modules() for name in m.__all__]
    assert len(union) == len(set(union)), "a name is exported by two modules"
    assert set(F.__all__) == set(union)
    assert len(F.__all__) == len(set(F.__all__))


def test_public_names_are_all():
    public = {n for n, v in vars(F).items()
              if not n.startswith("_") and callable(v) and not isinstance(v, type)}
    extra = {"get_auto_forward", "get_current_context"}  # re-exported as in NNabla
    assert public - extra == set(F.__all__)


def test_each_name_resolves_to_its_module():
    for m in _category_modules():
        for name in m.__all__:
            assert getattr(F, name) is getattr(m, name), (m.__name__, name)
            obj = getattr(m, name)
            if getattr(obj, "__module__", None):
                # defined in that module (not merely re-imported there)
                assert obj.__module__ == m.__name__, (name, obj.__module__, m.__name__)


def test_init_imports_every_name_explicitly():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(F))
    imported = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            assert all(a.name != "*" for a in node.names), "star import in functions/__init__"
            for a in node.names:
                imported[a.asname or a.name] = node.module
    for m in _category_modules():
        short = m.__name__.rsplit(".", 1)[1]
        for name in m.__all__:
            assert imported.get(name) == short, (name, imported.get(name), short)


def _readme_section(title):
    """The text of README.md's ``## title`` section (fails when it is missing)."""
    import os
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"README.md has no '## {title}' section"
    return m.group(1)


def test_readme_development_section_maps_every_module():
    """The layout paragraph names each module of functions/ and parametric_functions/
    (a new module without a line there fails)."""
    import re
    import nablite.parametric_functions as PF
    section = _readme_section("Development")
    for package in (F, PF):
        for info in pkgutil.iter_modules(package.__path__):
            assert re.search(rf"\b{re.escape(info.name)}\b", section), \
                f"README '## Development' does not name {package.__name__}.{info.name}"
