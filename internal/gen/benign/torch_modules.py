"""Every torch.nn module class with a small constructor and an input for
its first forward pass."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def t(*shape):
    return torch.randn(*shape)


def long(high, *shape):
    return torch.randint(0, high, shape)


def _maxunpool(dim):
    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dim](2, return_indices=True)
    x = t(*(1, 2) + (4,) * dim)

    def inputs():
        out, idx = pool(x)
        return (out, idx)

    return inputs


def _ctc_inputs():
    log_probs = t(6, 1, 4).log_softmax(2)
    targets = torch.tensor([[1, 2, 3]])
    return (log_probs, targets, torch.tensor([6]), torch.tensor([3]))


def _enc_layer():
    return nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)


def _dec_layer():
    return nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0)


# name -> (constructor, inputs or None when the module has no forward of its
# own). Every public nn.Module subclass of torch.nn is listed; a test in
# gen.py checks the table against torch.nn.
MODULES = {
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(2), lambda: (t(1, 2, 8),)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: (t(1, 2, 8, 8),)),
    "AdaptiveAvgPool3d": (lambda: nn.AdaptiveAvgPool3d(2), lambda: (t(1, 2, 4, 4, 4),)),
    "AdaptiveLogSoftmaxWithLoss": (lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[4, 8]),
                                   lambda: (t(4, 8), long(10, 4))),
    "AdaptiveMaxPool1d": (lambda: nn.AdaptiveMaxPool1d(2), lambda: (t(1, 2, 8),)),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(2, return_indices=True), lambda: (t(1, 2, 8, 8),)),
    "AdaptiveMaxPool3d": (lambda: nn.AdaptiveMaxPool3d(2), lambda: (t(1, 2, 4, 4, 4),)),
    "AlphaDropout": (lambda: nn.AlphaDropout(0.2), lambda: (t(4, 3),)),
    "AvgPool1d": (lambda: nn.AvgPool1d(2), lambda: (t(1, 2, 8),)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2, ceil_mode=True), lambda: (t(1, 2, 5, 5),)),
    "AvgPool3d": (lambda: nn.AvgPool3d(2), lambda: (t(1, 2, 4, 4, 4),)),
    "BCELoss": (lambda: nn.BCELoss(weight=torch.rand(3)), lambda: (torch.rand(2, 3), torch.rand(2, 3))),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(pos_weight=torch.ones(3)), lambda: (t(2, 3), torch.rand(2, 3))),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), lambda: (t(4, 3),)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, momentum=None), lambda: (t(2, 3, 4, 4),)),
    "BatchNorm3d": (lambda: nn.BatchNorm3d(3, affine=False), lambda: (t(2, 3, 2, 2, 2),)),
    "Bilinear": (lambda: nn.Bilinear(4, 5, 3), lambda: (t(2, 4), t(2, 5))),
    "CELU": (lambda: nn.CELU(0.5), lambda: (t(4),)),
    "CTCLoss": (lambda: nn.CTCLoss(), _ctc_inputs),
    "ChannelShuffle": (lambda: nn.ChannelShuffle(2), lambda: (t(1, 4, 2, 2),)),
    "ConstantPad1d": (lambda: nn.ConstantPad1d(2, 0.5), lambda: (t(1, 2, 4),)),
    "ConstantPad2d": (lambda: nn.ConstantPad2d((1, 0, 2, 1), 1.5), lambda: (t(1, 2, 4, 4),)),
    "ConstantPad3d": (lambda: nn.ConstantPad3d(1, -1.0), lambda: (t(1, 2, 2, 2, 2),)),
    "Container": (lambda: nn.Container(a=nn.Linear(2, 2)), None),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding="same"), lambda: (t(1, 2, 8),)),
    "Conv2d": (lambda: nn.Conv2d(2, 4, 3, groups=2, padding_mode="reflect", padding=1), lambda: (t(1, 2, 6, 6),)),
    "Conv3d": (lambda: nn.Conv3d(2, 3, 2, bias=False), lambda: (t(1, 2, 4, 4, 4),)),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2), lambda: (t(1, 2, 4),)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3, output_padding=1, stride=2), lambda: (t(1, 2, 4, 4),)),
    "ConvTranspose3d": (lambda: nn.ConvTranspose3d(2, 3, 2), lambda: (t(1, 2, 2, 2, 2),)),
    "CosineEmbeddingLoss": (lambda: nn.CosineEmbeddingLoss(margin=0.1), lambda: (t(3, 4), t(3, 4), torch.tensor([1, -1, 1]))),
    "CosineSimilarity": (lambda: nn.CosineSimilarity(dim=1), lambda: (t(3, 4), t(3, 4))),
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(weight=torch.rand(5), label_smoothing=0.1), lambda: (t(3, 5), long(5, 3))),
    "CrossMapLRN2d": (lambda: nn.CrossMapLRN2d(3), lambda: (t(1, 4, 3, 3),)),
    "DataParallel": (lambda: nn.DataParallel(nn.Linear(4, 3)), lambda: (t(2, 4),)),
    "Dropout": (lambda: nn.Dropout(0.3), lambda: (t(4, 3),)),
    "Dropout1d": (lambda: nn.Dropout1d(0.3), lambda: (t(1, 2, 4),)),
    "Dropout2d": (lambda: nn.Dropout2d(0.3), lambda: (t(1, 2, 4, 4),)),
    "Dropout3d": (lambda: nn.Dropout3d(0.3), lambda: (t(1, 2, 2, 2, 2),)),
    "ELU": (lambda: nn.ELU(alpha=0.5), lambda: (t(4),)),
    "Embedding": (lambda: nn.Embedding(10, 3, padding_idx=0, max_norm=1.0), lambda: (long(10, 2, 4),)),
    "EmbeddingBag": (lambda: nn.EmbeddingBag(10, 3, mode="max"), lambda: (long(10, 2, 4),)),
    "FeatureAlphaDropout": (lambda: nn.FeatureAlphaDropout(0.2), lambda: (t(1, 2, 4, 4),)),
    "Flatten": (lambda: nn.Flatten(0, -1), lambda: (t(2, 3, 4),)),
    "Fold": (lambda: nn.Fold(output_size=(4, 4), kernel_size=2), lambda: (t(1, 4, 9),)),
    "FractionalMaxPool2d": (lambda: nn.FractionalMaxPool2d(2, output_size=3), lambda: (t(1, 2, 8, 8),)),
    "FractionalMaxPool3d": (lambda: nn.FractionalMaxPool3d(2, output_ratio=0.5), lambda: (t(1, 2, 6, 6, 6),)),
    "GELU": (lambda: nn.GELU(approximate="tanh"), lambda: (t(4),)),
    "GLU": (lambda: nn.GLU(), lambda: (t(2, 4),)),
    "GRU": (lambda: nn.GRU(4, 5, num_layers=2, bidirectional=True), lambda: (t(3, 1, 4),)),
    "GRUCell": (lambda: nn.GRUCell(4, 5), lambda: (t(2, 4),)),
    "GaussianNLLLoss": (lambda: nn.GaussianNLLLoss(full=True), lambda: (t(3, 2), t(3, 2), torch.rand(3, 2) + 0.1)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), lambda: (t(2, 4, 3),)),
    "Hardshrink": (lambda: nn.Hardshrink(0.3), lambda: (t(4),)),
    "Hardsigmoid": (lambda: nn.Hardsigmoid(), lambda: (t(4),)),
    "Hardswish": (lambda: nn.Hardswish(), lambda: (t(4),)),
    "Hardtanh": (lambda: nn.Hardtanh(-2.0, 2.0), lambda: (t(4),)),
    "HingeEmbeddingLoss": (lambda: nn.HingeEmbeddingLoss(), lambda: (t(3, 2), torch.tensor([[1, -1], [-1, 1], [1, 1]]))),
    "HuberLoss": (lambda: nn.HuberLoss(delta=0.5), lambda: (t(3), t(3))),
    "Identity": (lambda: nn.Identity(54, unused="argument"), lambda: (t(3),)),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), lambda: (t(2, 3, 5),)),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(3), lambda: (t(2, 3, 4, 4),)),
    "InstanceNorm3d": (lambda: nn.InstanceNorm3d(3, track_running_stats=True), lambda: (t(2, 3, 2, 2, 2),)),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="batchmean", log_target=True), lambda: (t(3, 4).log_softmax(1), t(3, 4).log_softmax(1))),
    "L1Loss": (lambda: nn.L1Loss(reduction="sum"), lambda: (t(3), t(3))),
    "LPPool1d": (lambda: nn.LPPool1d(2, 2), lambda: (t(1, 2, 8),)),
    "LPPool2d": (lambda: nn.LPPool2d(1.5, 2), lambda: (t(1, 2, 4, 4),)),
    "LSTM": (lambda: nn.LSTM(4, 6, proj_size=3, batch_first=True), lambda: (t(1, 3, 4),)),
    "LSTMCell": (lambda: nn.LSTMCell(4, 5), lambda: (t(2, 4),)),
    "LayerNorm": (lambda: nn.LayerNorm([3, 4]), lambda: (t(2, 3, 4),)),
    "LazyBatchNorm1d": (lambda: nn.LazyBatchNorm1d(), lambda: (t(4, 3),)),
    "LazyBatchNorm2d": (lambda: nn.LazyBatchNorm2d(), lambda: (t(2, 3, 4, 4),)),
    "LazyBatchNorm3d": (lambda: nn.LazyBatchNorm3d(affine=False), lambda: (t(2, 3, 2, 2, 2),)),
    "LazyConv1d": (lambda: nn.LazyConv1d(3, 3), lambda: (t(1, 2, 8),)),
    "LazyConv2d": (lambda: nn.LazyConv2d(3, 3, bias=False), lambda: (t(1, 2, 6, 6),)),
    "LazyConv3d": (lambda: nn.LazyConv3d(3, 2), lambda: (t(1, 2, 4, 4, 4),)),
    "LazyConvTranspose1d": (lambda: nn.LazyConvTranspose1d(3, 3), lambda: (t(1, 2, 4),)),
    "LazyConvTranspose2d": (lambda: nn.LazyConvTranspose2d(3, 3), lambda: (t(1, 2, 4, 4),)),
    "LazyConvTranspose3d": (lambda: nn.LazyConvTranspose3d(3, 2), lambda: (t(1, 2, 2, 2, 2),)),
    "LazyInstanceNorm1d": (lambda: nn.LazyInstanceNorm1d(affine=True), lambda: (t(2, 3, 5),)),
    "LazyInstanceNorm2d": (lambda: nn.LazyInstanceNorm2d(track_running_stats=True), lambda: (t(2, 3, 4, 4),)),
    "LazyInstanceNorm3d": (lambda: nn.LazyInstanceNorm3d(affine=True, track_running_stats=True), lambda: (t(2, 3, 2, 2, 2),)),
    "LazyLinear": (lambda: nn.LazyLinear(3), lambda: (t(2, 4),)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2, inplace=True), lambda: (t(4),)),
    "Linear": (lambda: nn.Linear(4, 3), lambda: (t(2, 4),)),
    "LocalResponseNorm": (lambda: nn.LocalResponseNorm(2), lambda: (t(1, 4, 3, 3),)),
    "LogSigmoid": (lambda: nn.LogSigmoid(), lambda: (t(4),)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), lambda: (t(2, 4),)),
    "MSELoss": (lambda: nn.MSELoss(), lambda: (t(3), t(3))),
    "MarginRankingLoss": (lambda: nn.MarginRankingLoss(0.2), lambda: (t(3), t(3), torch.tensor([1.0, -1.0, 1.0]))),
    "MaxPool1d": (lambda: nn.MaxPool1d(2, stride=1, dilation=2), lambda: (t(1, 2, 8),)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2, return_indices=True), lambda: (t(1, 2, 4, 4),)),
    "MaxPool3d": (lambda: nn.MaxPool3d(2), lambda: (t(1, 2, 4, 4, 4),)),
    "MaxUnpool1d": (lambda: nn.MaxUnpool1d(2), _maxunpool(1)),
    "MaxUnpool2d": (lambda: nn.MaxUnpool2d(2), _maxunpool(2)),
    "MaxUnpool3d": (lambda: nn.MaxUnpool3d(2), _maxunpool(3)),
    "Mish": (lambda: nn.Mish(), lambda: (t(4),)),
    "Module": (lambda: nn.Module(), None),
    "ModuleDict": (lambda: nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()}), None),
    "ModuleList": (lambda: nn.ModuleList([nn.Linear(2, 2), nn.Tanh()]), None),
    "MultiLabelMarginLoss": (lambda: nn.MultiLabelMarginLoss(), lambda: (t(2, 4), torch.tensor([[3, 0, -1, 1], [1, 2, -1, 0]]))),
    "MultiLabelSoftMarginLoss": (lambda: nn.MultiLabelSoftMarginLoss(weight=torch.rand(4)), lambda: (t(2, 4), torch.randint(0, 2, (2, 4)).float())),
    "MultiMarginLoss": (lambda: nn.MultiMarginLoss(p=2, margin=0.5), lambda: (t(3, 4), long(4, 3))),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2, kdim=6, vdim=5, dropout=0.0), lambda: (t(3, 1, 8), t(4, 1, 6), t(4, 1, 5))),
    "NLLLoss": (lambda: nn.NLLLoss(ignore_index=1), lambda: (t(3, 5).log_softmax(1), long(5, 3))),
    "NLLLoss2d": (lambda: nn.NLLLoss2d(), lambda: (t(2, 3, 2, 2).log_softmax(1), long(3, 2, 2, 2))),
    "PReLU": (lambda: nn.PReLU(3), lambda: (t(2, 3),)),
    "PairwiseDistance": (lambda: nn.PairwiseDistance(p=1.0), lambda: (t(3, 4), t(3, 4))),
    "ParameterDict": (lambda: nn.ParameterDict({"w": nn.Parameter(t(2)), "b": nn.Parameter(t(3))}), None),
    "ParameterList": (lambda: nn.ParameterList([nn.Parameter(t(2)), nn.Parameter(t(2, 2))]), None),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), lambda: (t(1, 4, 2, 2),)),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), lambda: (t(1, 1, 4, 4),)),
    "PoissonNLLLoss": (lambda: nn.PoissonNLLLoss(log_input=False), lambda: (torch.rand(3), torch.rand(3))),
    "RNN": (lambda: nn.RNN(4, 5, nonlinearity="relu"), lambda: (t(3, 1, 4),)),
    "RNNBase": (lambda: nn.RNNBase("GRU", 4, 5), None),
    "RNNCell": (lambda: nn.RNNCell(4, 5), lambda: (t(2, 4),)),
    "RNNCellBase": (lambda: nn.RNNCellBase(4, 5, True, 2), None),
    "RReLU": (lambda: nn.RReLU(0.1, 0.3), lambda: (t(4),)),
    "ReLU": (lambda: nn.ReLU(), lambda: (t(4),)),
    "ReLU6": (lambda: nn.ReLU6(), lambda: (t(4),)),
    "ReflectionPad1d": (lambda: nn.ReflectionPad1d(2), lambda: (t(1, 2, 4),)),
    "ReflectionPad2d": (lambda: nn.ReflectionPad2d(1), lambda: (t(1, 2, 4, 4),)),
    "ReflectionPad3d": (lambda: nn.ReflectionPad3d(1), lambda: (t(1, 2, 2, 2, 2),)),
    "ReplicationPad1d": (lambda: nn.ReplicationPad1d((1, 2)), lambda: (t(1, 2, 4),)),
    "ReplicationPad2d": (lambda: nn.ReplicationPad2d(1), lambda: (t(1, 2, 4, 4),)),
    "ReplicationPad3d": (lambda: nn.ReplicationPad3d(1), lambda: (t(1, 2, 2, 2, 2),)),
    "SELU": (lambda: nn.SELU(), lambda: (t(4),)),
    "Sequential": (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), lambda: (t(2, 4),)),
    "SiLU": (lambda: nn.SiLU(), lambda: (t(4),)),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda: (t(4),)),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(beta=0.5), lambda: (t(3), t(3))),
    "SoftMarginLoss": (lambda: nn.SoftMarginLoss(), lambda: (t(3), torch.tensor([1.0, -1.0, 1.0]))),
    "Softmax": (lambda: nn.Softmax(dim=-1), lambda: (t(2, 4),)),
    "Softmax2d": (lambda: nn.Softmax2d(), lambda: (t(1, 2, 3, 3),)),
    "Softmin": (lambda: nn.Softmin(dim=1), lambda: (t(2, 4),)),
    "Softplus": (lambda: nn.Softplus(beta=2, threshold=10), lambda: (t(4),)),
    "Softshrink": (lambda: nn.Softshrink(0.2), lambda: (t(4),)),
    "Softsign": (lambda: nn.Softsign(), lambda: (t(4),)),
    # SyncBatchNorm's forward needs a GPU and a process group.
    "SyncBatchNorm": (lambda: nn.SyncBatchNorm(3), None),
    "Tanh": (lambda: nn.Tanh(), lambda: (t(4),)),
    "Tanhshrink": (lambda: nn.Tanhshrink(), lambda: (t(4),)),
    "Threshold": (lambda: nn.Threshold(0.1, 20.0), lambda: (t(4),)),
    "Transformer": (lambda: nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.0),
                    lambda: (t(3, 1, 8), t(2, 1, 8))),
    "TransformerDecoder": (lambda: nn.TransformerDecoder(_dec_layer(), 2, norm=nn.LayerNorm(8)), lambda: (t(2, 1, 8), t(3, 1, 8))),
    "TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(8, 2, 16, activation="gelu", norm_first=True), lambda: (t(2, 1, 8), t(3, 1, 8))),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(_enc_layer(), 2, enable_nested_tensor=False), lambda: (t(3, 1, 8),)),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), lambda: (t(1, 3, 8),)),
    "TripletMarginLoss": (lambda: nn.TripletMarginLoss(margin=0.5, swap=True), lambda: (t(3, 4), t(3, 4), t(3, 4))),
    "TripletMarginWithDistanceLoss": (lambda: nn.TripletMarginWithDistanceLoss(), lambda: (t(3, 4), t(3, 4), t(3, 4))),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 2)), lambda: (t(2, 4),)),
    "Unfold": (lambda: nn.Unfold(kernel_size=2, stride=2), lambda: (t(1, 1, 4, 4),)),
    "Upsample": (lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), lambda: (t(1, 1, 2, 2),)),
    "UpsamplingBilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), lambda: (t(1, 1, 2, 2),)),
    "UpsamplingNearest2d": (lambda: nn.UpsamplingNearest2d(size=(3, 5)), lambda: (t(1, 1, 2, 2),)),
    "ZeroPad2d": (lambda: nn.ZeroPad2d((1, 1, 2, 0)), lambda: (t(1, 1, 2, 2),)),
}

# Variants: a second configuration of modules whose pickles differ by
# option (function-valued attributes, weights, batch_first ...).
VARIANTS = {
    "TransformerEncoderLayer-gelu-fn": (lambda: nn.TransformerEncoderLayer(8, 2, 16, activation=F.gelu, dropout=0.0), lambda: (t(3, 1, 8),)),
    "TransformerDecoderLayer-relu-fn": (lambda: nn.TransformerDecoderLayer(8, 2, 16, activation=F.relu, dropout=0.0), lambda: (t(2, 1, 8), t(3, 1, 8))),
    "TripletMarginWithDistanceLoss-pairwise": (lambda: nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance()), lambda: (t(3, 4), t(3, 4), t(3, 4))),
    "TripletMarginWithDistanceLoss-cosine-fn": (lambda: nn.TripletMarginWithDistanceLoss(distance_function=F.cosine_similarity), lambda: (t(3, 4), t(3, 4), t(3, 4))),
    "LSTM-2layer-bi": (lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, dropout=0.1), lambda: (t(5, 2, 3),)),
    "GRU-batch-first": (lambda: nn.GRU(3, 4, batch_first=True, bias=False), lambda: (t(2, 5, 3),)),
    "Embedding-sparse": (lambda: nn.Embedding(20, 4, sparse=True), lambda: (long(20, 3),)),
    "EmbeddingBag-per-sample-weights": (lambda: nn.EmbeddingBag(10, 3, mode="sum", include_last_offset=True),
                                        lambda: (long(10, 6), torch.tensor([0, 2, 6]), torch.rand(6))),
    "Sequential-nested": (lambda: nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()), nn.Flatten(), nn.LazyLinear(2)),
                          lambda: (t(2, 1, 5, 5),)),
    "ModuleDict-of-lists": (lambda: nn.ModuleDict({"enc": nn.ModuleList([nn.Linear(2, 2)] * 2), "p": nn.ParameterList([nn.Parameter(t(1))])}), None),
    "Upsample-nearest-size": (lambda: nn.Upsample(size=4), lambda: (t(1, 1, 2),)),
    "Conv2d-channels-last": (lambda: nn.Conv2d(3, 2, 1).to(memory_format=torch.channels_last), lambda: (t(1, 3, 2, 2),)),
    "BatchNorm1d-no-stats": (lambda: nn.BatchNorm1d(3, track_running_stats=False), lambda: (t(4, 3),)),
    "MultiheadAttention-batch-first-bias-kv": (lambda: nn.MultiheadAttention(8, 4, add_bias_kv=True, add_zero_attn=True, batch_first=True),
                                               lambda: (t(1, 3, 8), t(1, 3, 8), t(1, 3, 8))),
    "Linear-requires-grad-off": (lambda: nn.Linear(3, 3).requires_grad_(False), lambda: (t(1, 3),)),
    "Linear-meta": (lambda: nn.Linear(3, 2, device="meta"), None),
    "Module-eval": (lambda: nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)).eval(), lambda: (t(3, 2),)),
}
