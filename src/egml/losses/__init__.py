"""egml.losses: DisCo decorrelation, multi-output photon-ID loss, regression likelihoods."""

from egml.losses.decorrelated_bce import disco_multi_output_loss, weighted_bce_with_logits
from egml.losses.disco import distance_correlation
from egml.losses.regression import (
    gaussian_mixture_nll,
    gaussian_nll,
    mse_loss,
    regression_loss,
    split_gaussian_nll,
)

__all__ = [
    "disco_multi_output_loss",
    "distance_correlation",
    "gaussian_mixture_nll",
    "gaussian_nll",
    "mse_loss",
    "regression_loss",
    "split_gaussian_nll",
    "weighted_bce_with_logits",
]
