"""Every public F name is either gradient-checked by a registered case table (or a
registered test) or listed in NOT_GRADIENT_CHECKED with its reason.

The registry is built by importing the function test modules and reading their
case tables (module-level lists, or a test's own parametrize list), not by
searching test text: a name counts only when it is the function of an entry in a
table whose consuming test checks backward (``check_function`` with gradients,
or ``backward()`` against a stated rule). Entries a module marks as not
differentiated (its ``NOT_DIFFERENTIABLE``) and entries whose ``grad`` is ``[]``
do not count."""
import importlib
import inspect
import types

import pytest

import nablite.functions as F

def _tables(module, *cases, **named):
    """Registry rows of tests/test_functions_<module>.py: each table of ``cases``
    names its functions in its entries; ``named`` maps a table to its one function."""
    return ([(f"test_functions_{module}", table, None) for table in cases]
            + [(f"test_functions_{module}", table, fn) for table, fn in named.items()])


# (test module, table, the function when its entries do not name it). A table is a
# module-level list consumed by a parametrized test, or "test_*": that test's own
# parametrize list(s). Its consumers must run check_function with gradients.
GRADIENT_TABLES = [
    *[row for m in ("activation", "arithmetic", "array", "indexing", "logical", "loss", "math",
                    "reduction", "special") for row in _tables(m, "CASES")],
    *_tables("recurrent", "CASES"),  # entries name F.rnn/lstm/gru as strings
    *_tables("normalization", "CASES", BN_CASES="batch_normalization",
             test_fused_batch_normalization="fused_batch_normalization",
             test_norm_normalization="norm_normalization"),
    *_tables("layers", test_fused_convolution="fused_convolution", AFFINE_CASES="affine",
             BATCH_MATMUL_CASES="batch_matmul", CONV_CASES="convolution",
             DECONV_CASES="deconvolution", test_depthwise_convolution="depthwise_convolution",
             test_depthwise_deconvolution="depthwise_deconvolution", test_embed="embed"),
    *_tables("pooling", "test_pooling_other_ranks", test_max_pooling="max_pooling",
             test_sum_pooling="sum_pooling", test_average_pooling="average_pooling",
             test_global_average_pooling="global_average_pooling",
             test_unpooling="unpooling"),
    *_tables("deformable", DEFORM_CASES="deformable_convolution",
             test_adaptive_separable_convolution="adaptive_separable_convolution"),
    *_tables("detection", MPB_ARGS="max_pooling_backward", PC_ARGS="patch_correlation"),
    *_tables("quantized", test_binary_connect_affine="binary_connect_affine",
             test_binary_connect_convolution="binary_connect_convolution",
             test_binary_weight_affine="binary_weight_affine",
             test_binary_weight_convolution="binary_weight_convolution",
             test_inq_affine="inq_affine", test_inq_convolution="inq_convolution"),
    *_tables("signal", test_fft_forward_backward="fft", test_ifft_forward_backward="ifft",
             STFT_CASES="stft", ISTFT_CASES="istft"),
    *_tables("spatial", test_affine_grid="affine_grid", test_warp_by_grid_linear="warp_by_grid",
             test_warp_by_flow="warp_by_flow", test_roi_align="roi_align"),
]

# Backward checked against a stated rule (straight-through, surrogate or kink
# gradients, where central differences do not apply): the consumer calls backward.
RULE_TABLES = [
    ("test_functions_activation", "KINKS"),
    ("test_functions_logical", "STE_CASES"),
    ("test_functions_special", "STE_CASES"),
]

# Functions gradient-checked by one test of their own, not a table.
GRADIENT_TESTS = {
    "weight_normalization": "test_functions_normalization::test_weight_normalization",
    "multi_head_attention": "test_functions_attention::test_forward_and_gradients",
    "top_k_grad": "test_functions_stochastic::test_identity_forwards_have_gradients",
    "reduce": "test_functions_reduction::test_reduce_is_deprecated_and_dispatches",
    "spectral_norm": "test_functions_normalization::"
                     "test_spectral_norm_test_mode_forward_and_numerical_gradient",
    "random_shift": "test_functions_stochastic::test_random_shift_numerical_gradient",
    # one process here; several ranks against batch_normalization in tests/test_mpi_sync_bn.py
    "sync_batch_normalization": "test_functions_normalization::"
                                "test_sync_batch_normalization_one_process",
}

# Module-level helpers of a test module used as a table entry's function: they
# differentiate the named F function through a composition.
WRAPPERS = {
    ("test_functions_array", "cholesky_of_product"): "batch_cholesky",
}

_STE = "piecewise constant: backward is straight-through, checked against its rule in "
_TEST = "a zero/one test with no gradient (NNabla's backward passes none); forward in "
_RANDOM = ("random output: forward checked for its distribution/semantics, backward "
           "against the drawn mask/indices (no central differences through a random draw)")

NOT_GRADIENT_CHECKED = {
    # generators: no inputs
    **{n: "a generator without inputs (test_functions_math.GENERATOR_CASES / "
          "test_functions_stochastic.test_generators)"
       for n in ("arange", "linspace", "constant", "rand", "randn", "randint", "rand_beta",
                 "rand_binomial", "rand_gamma")},
    # straight-through rounding
    **{n: _STE + "test_functions_math.STE_CASES" for n in ("round", "ceil", "floor")},
    # comparisons and logical functions
    **{n: _TEST + "test_functions_logical.TEST_CASES"
       for n in ("equal", "equal_scalar", "not_equal", "not_equal_scalar", "greater",
                 "greater_equal", "greater_equal_scalar", "greater_scalar", "less",
                 "less_equal", "less_equal_scalar", "less_scalar", "logical_and",
                 "logical_and_scalar", "logical_not", "logical_or", "logical_or_scalar",
                 "logical_xor", "logical_xor_scalar", "isinf", "isnan")},
    "searchsorted": "integer output (indices); no gradient as NNabla",
    "binary_error": "a validation metric without gradient (test_functions_validation)",
    "top_n_error": "a validation metric without gradient (test_functions_validation)",
    "confusion_matrix": "a validation metric without gradient (test_functions_validation)",
    "broadcast_to": "NNabla raises when its gradient is requested",
    "shape": "an integer description of the shape",
    "one_hot": "integer input",
    "nonzero": "integer output",
    "unique": "integer/selection outputs; NNabla defines no backward",
    "nms_detection2d": "selection by thresholds; NNabla defines no backward",
    "onnx_non_max_suppression": "integer indices output; no backward",
    "onnx_resize": "NNabla defines no backward (test_onnx_resize_has_no_gradient)",
    "bit_shift": "integer function; no gradient",
    "mod2": "no backward in NNabla (forward in test_functions_special.test_mod2)",
    "eye_like": "output does not depend on the input's values",
    "quantize_linear": "rounding to integers; no backward in NNabla",
    "min_max_quantize": "straight-through quantization; gradient rules checked by "
                        "test_functions_quantized against the stated rule, not numerically",
    "assign": "writes into dst in place; its gradient is NNabla's pass-through, "
              "tested by test_functions_array.test_assign_copies_src_into_dst",
    "clip_grad_by_norm": "identity in forward; backward rescales the incoming gradient "
                         "(not the gradient of its forward), checked against the rule",
    "clip_grad_by_value": "identity in forward; backward clips the incoming gradient "
                          "(not the gradient of its forward), checked against the rule",
    "mean_subtraction": "running-mean update state; NNabla's backward ignores the mean "
                        "dependence, checked against that rule",
    "unlink": "passes no gradient by definition (test_unlink_passes_no_gradient)",
    "sink": "a graph terminal that seeds ones; no differentiable output",
    "vat_noise": "its backward writes the gradient into the noise buffer (NNabla's "
                 "rule), not the gradient of its forward; forward-only check",
    "top_k_data": "selection; backward values compared with NNabla-measured ones "
                  "(test_functions_stochastic.test_top_k_data)",
    **{n: _RANDOM for n in ("dropout", "random_choice", "random_crop", "random_erase",
                             "random_flip", "image_augmentation")},
}


def _module(name):
    return importlib.import_module(name)


def _param_lists(test):
    """(argnames, argvalues) of each parametrize mark of ``test``."""
    out = []
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "parametrize":
            names = mark.args[0]
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            out.append((names, list(mark.args[1])))
    return out


def _values(entry):
    entry = getattr(entry, "values", entry)  # pytest.param
    return entry if isinstance(entry, tuple) else (entry,)


def _public():
    return {id(getattr(F, n)): n for n in F.__all__}


def _consumers(module, table):
    """The tests of ``module`` parametrized over ``table`` (with their argnames)."""
    if table.startswith("test_"):
        test = getattr(module, table)
        return [(test, names, values) for names, values in _param_lists(test)
                if len(values)] or [(test, [], [])]
    rows = getattr(module, table)
    found = []
    for name, test in vars(module).items():
        if name.startswith("test_") and isinstance(test, types.FunctionType):
            for names, values in _param_lists(test):
                if values is rows or values == list(rows):
                    found.append((test, names, values))
    return found


def _names_in(module, table, fixed, need_grad_check):
    public = _public()
    excluded = {id(f) for f in getattr(module, "NOT_DIFFERENTIABLE", {})}
    consumers = _consumers(module, table)
    assert consumers, f"{module.__name__}.{table}: no test is parametrized over it"
    names = set()
    for test, argnames, rows in consumers:
        src = inspect.getsource(test)
        if need_grad_check:
            assert "check_function(" in src and ",grad=[]" not in "".join(src.split()), \
                f"{test.__name__} does not check gradients with check_function"
        else:
            assert "backward" in src or "grad_at(" in src, f"{test.__name__} checks no backward"
        if fixed is not None:
            assert f"F.{fixed}" in src, f"{test.__name__} does not call F.{fixed}"
            assert rows or "check_function(" in src
            names.add(fixed)
            continue
        assert rows, f"{module.__name__}.{table} is empty"
        for row in rows:
            vals = _values(row)
            if "grad" in argnames and len(vals) == len(argnames):
                g = vals[argnames.index("grad")]
                if isinstance(g, (list, tuple)) and not g:
                    continue
            fs = [v for v in vals if callable(v) and id(v) in public]
            wrappers = {id(getattr(module, w)): n for (m, w), n in WRAPPERS.items()
                        if m == module.__name__}
            wrapped = [wrappers[id(v)] for v in vals if id(v) in wrappers]
            if wrapped and not fs:
                wsrc = inspect.getsource(vals[0])
                assert f"F.{wrapped[0]}" in wsrc, f"{vals[0].__name__} calls no F.{wrapped[0]}"
                names.add(wrapped[0])
            elif fs and id(fs[0]) not in excluded:
                names.add(public[id(fs[0])])
            elif not fs and isinstance(vals[0], str) and vals[0] in F.__all__ \
                    and "getattr(F, kind)" in inspect.getsource(module):
                names.add(vals[0])  # the function named by a string (recurrent kinds)
    return names


def gradient_checked():
    """{public name: [where its gradient is checked]} from the registry above."""
    where = {}
    for mod, table, fixed in GRADIENT_TABLES:
        for n in _names_in(_module(mod), table, fixed, True):
            where.setdefault(n, []).append(f"{mod}.{table}")
    for mod, table in RULE_TABLES:
        for n in _names_in(_module(mod), table, None, False):
            where.setdefault(n, []).append(f"{mod}.{table}")
    for n, ref in GRADIENT_TESTS.items():
        mod, test = ref.split("::")
        src = inspect.getsource(getattr(_module(mod), test))
        assert ("check_function(" in src or "numerical_grad(" in src) and f"F.{n}" in src, \
            f"{ref} does not check F.{n} against central differences"
        where.setdefault(n, []).append(ref)
    return where


def test_every_public_function_is_gradient_checked_or_listed_with_a_reason():
    checked = gradient_checked()
    missing = sorted(set(F.__all__) - set(checked) - set(NOT_GRADIENT_CHECKED))
    assert not missing, f"F functions neither gradient-checked nor listed: {missing}"


def test_the_not_checked_list_is_exact():
    checked = gradient_checked()
    assert not set(NOT_GRADIENT_CHECKED) & set(checked), \
        f"listed as not checked but checked: {sorted(set(NOT_GRADIENT_CHECKED) & set(checked))}"
    assert set(NOT_GRADIENT_CHECKED) <= set(F.__all__), \
        f"not public: {sorted(set(NOT_GRADIENT_CHECKED) - set(F.__all__))}"
    assert all(isinstance(r, str) and r for r in NOT_GRADIENT_CHECKED.values())


def test_registry_names_only_public_functions():
    assert set(gradient_checked()) <= set(F.__all__)
