"""egml.models: plain ``nn.Module`` networks (no Lightning, no file reading, no config parsing).

Classifiers return logits (sigmoid/softmax belong to the loss and to evaluation); regressors
return (r[, σ…]). Every model takes a batch dict of tensors keyed by canonical field names.
"""

from egml.models.cell_transformer import CellTransformer
from egml.models.deep_sets import DeepSets
from egml.models.electron_dnn import ElectronDNN
from egml.models.photon_cnn import PhotonCNN
from egml.models.resnet import ResNetTagger

__all__ = ["CellTransformer", "DeepSets", "ElectronDNN", "PhotonCNN", "ResNetTagger"]
