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
