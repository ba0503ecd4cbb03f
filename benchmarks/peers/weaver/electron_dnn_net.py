"""weaver-core network file of the egml electron_dnn peer benchmark: the reference 5 x 256 DNN.

Linear -> BatchNorm1d -> LeakyReLU(0.01) five times, then six logits: the same network as
egml.models.electron_dnn.ElectronDNN (weaver standardises the inputs itself).
"""

import torch
from torch import nn


class ElectronDNN(nn.Module):
    def __init__(self, n_features, n_classes, depth=5, width=256, negative_slope=0.01):
        super().__init__()
        layers, n_in = [], n_features
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.LeakyReLU(negative_slope)]
            n_in = width
        layers.append(nn.Linear(n_in, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, features):
        return self.net(features)


def get_model(data_config, **kwargs):
    n_features = len(data_config.input_dicts["features"])
    model = ElectronDNN(n_features, len(data_config.label_value))
    model_info = {
        "input_names": list(data_config.input_names),
        "input_shapes": {"features": (1, n_features)},
        "output_names": ["softmax"],
        "dynamic_axes": {"features": {0: "N"}, "softmax": {0: "N"}},
    }
    return model, model_info


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
