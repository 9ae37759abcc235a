"""NNabla's graph converters: rebuild a graph with modifiers (batch-norm folding,
fusing, layout changes, removing functions, ...).

    import nablite.experimental.graph_converters as GC
    y2 = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)

Modules: graph_converter (the converter and the modifier base), batch_normalization
(folding, self-folding, fused/unfused, batch-stat, test mode), layout (channel
first/last), basic (identity, no-grad, remove-function, pruning), quantization
(quantization-aware training's recording and training graphs, with
nablite.utils.qnn).
"""
from .graph_converter import FunctionModifier, GraphConverter
from .batch_normalization import (AddBiasModifier, BatchNormBatchStatModifier,
                                  BatchNormalizationFoldingModifier,
                                  BatchNormalizationFoldingModifierInner,
                                  BatchNormalizationFoldingOppositeModifierInner,
                                  BatchNormalizationSelfFoldingModifier,
                                  FusedBatchNormalizationModifier, TestModeModifier,
                                  UnfusedBatchNormalizationModifier)
from .layout import ChannelFirstModifier, ChannelLastModifier
from .basic import IdentityModifier, NoGradModifier, PruningModifier, RemoveFunctionModifier
from .quantization import QuantizeNonQNNToRecordingModifier, QuantizeRecordingToTrainingModifier

__all__ = ["GraphConverter", "FunctionModifier", "AddBiasModifier",
           "BatchNormBatchStatModifier", "BatchNormalizationFoldingModifier",
           "BatchNormalizationFoldingModifierInner",
           "BatchNormalizationFoldingOppositeModifierInner",
           "BatchNormalizationSelfFoldingModifier", "FusedBatchNormalizationModifier",
           "TestModeModifier", "UnfusedBatchNormalizationModifier", "ChannelFirstModifier",
           "ChannelLastModifier", "IdentityModifier", "NoGradModifier", "PruningModifier",
           "RemoveFunctionModifier", "QuantizeNonQNNToRecordingModifier",
           "QuantizeRecordingToTrainingModifier"]


def _nnabla_submodules():
    """NNabla's module per modifier (``...graph_converters.identity`` and so on), so
    scripts importing from those paths run: small modules of the same classes."""
    import sys
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    layout = {
        "batch_norm_batchstat": ["BatchNormBatchStatModifier"],
        "batch_normalization_folding": ["AddBiasModifier", "BatchNormalizationFoldingModifier",
                                        "BatchNormalizationFoldingModifierInner",
                                        "BatchNormalizationFoldingOppositeModifierInner"],
        "batch_normalization_self_folding": ["BatchNormalizationSelfFoldingModifier"],
        "channel_first": ["ChannelFirstModifier"],
        "channel_last": ["ChannelLastModifier"],
        "fused_batch_normalization": ["FusedBatchNormalizationModifier"],
        "identity": ["IdentityModifier"],
        "no_grad": ["NoGradModifier"],
        "prune": ["PruningModifier"],
        "quantize": ["QuantizeNonQNNToRecordingModifier", "QuantizeRecordingToTrainingModifier"],
        "remove_function": ["RemoveFunctionModifier"],
        "test_mode": ["TestModeModifier"],
        "unfused_batch_normalization": ["UnfusedBatchNormalizationModifier"],
    }
    here = sys.modules[__name__]
    for short, names in layout.items():
        module = ModuleType(f"{__name__}.{short}", f"NNabla's path to {', '.join(names)}.")
        for n in names + ["FunctionModifier"]:
            setattr(module, n, getattr(here, n))
        module.__spec__ = ModuleSpec(module.__name__, None)  # importlib.util.find_spec reads it
        sys.modules[module.__name__] = module
        setattr(here, short, module)


_nnabla_submodules()
