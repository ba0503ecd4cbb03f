"""ATLAS six-class electron-ID DNN (reference 001): 5 hidden layers × 256, LeakyReLU, BatchNorm.

Each hidden layer is Linear → BatchNorm1d → LeakyReLU (→ Dropout). The output is six **logits**
in the order of :data:`egml.physics.discriminants.ELECTRON_CLASSES` (El, CF, PC, HF, LFEg, LFH);
the reference's softmax belongs to the loss (``cross_entropy``) and to evaluation
(``torch.softmax``; :func:`egml.physics.discriminants.d_el` accepts logits directly).
Not stated in the reference and chosen here: LeakyReLU slope 0.01 (the PyTorch/Keras default is
0.01/0.3; we take PyTorch's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import Tensor, nn

from egml.models.fields import stack_fields
from egml.models.normalization import FeatureNormalizer
from egml.physics.discriminants import ELECTRON_CLASSES


class ElectronDNN(nn.Module):
    """MLP classifier on tabular electron features.

    Args:
        n_features: number of inputs (or give ``feature_names``).
        feature_names: canonical fields stacked from a batch dict, in this order.
        depth, width: hidden layers and their width (reference: 5 × 256).
        n_classes: output logits (reference: 6).
        dropout: after every hidden layer (0 = off).
        batch_norm: BatchNorm1d in every hidden layer (reference: on).
        negative_slope: LeakyReLU slope.
    """

    def __init__(
        self,
        n_features: int | None = None,
        feature_names: Sequence[str] = (),
        depth: int = 5,
        width: int = 256,
        n_classes: int = len(ELECTRON_CLASSES),
        dropout: float = 0.0,
        batch_norm: bool = True,
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        self.feature_names = tuple(feature_names)
        if n_features is None:
            n_features = len(self.feature_names)
        if n_features <= 0 or (self.feature_names and n_features != len(self.feature_names)):
            raise ValueError(
                f"ElectronDNN n_features={n_features}, {len(self.feature_names)} names; expected a positive, equal count"
            )
        self.normalizer = FeatureNormalizer(n_features)
        layers: list[nn.Module] = []
        n_in = n_features
        for _ in range(depth):
            layers.append(nn.Linear(n_in, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(negative_slope))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = width
        layers.append(nn.Linear(n_in, n_classes))
        self.net = nn.Sequential(*layers)
        self.output_names = (
            ELECTRON_CLASSES
            if n_classes == len(ELECTRON_CLASSES)
            else tuple(f"class{i}" for i in range(n_classes))
        )

    def forward(self, batch: Mapping[str, Tensor] | Tensor) -> Tensor:
        """Logits ``(B, n_classes)`` from an ``(B, F)`` tensor or a batch dict of ``feature_names``."""
        x = batch if isinstance(batch, Tensor) else stack_fields(batch, self.feature_names, "ElectronDNN")
        if x.dim() != 2 or x.shape[1] != self.normalizer.mean.shape[0]:
            raise ValueError(
                f"ElectronDNN input shape {tuple(x.shape)}; expected (B, {self.normalizer.mean.shape[0]})"
            )
        return self.net(self.normalizer(x.float()))
