"""egml.evaluation: metrics (ROC, rejection at fixed efficiency, working points, S/B, resolution) and plots.

The metric modules are NumPy-only; ``egml.evaluation.plots`` (matplotlib) is imported on demand.
"""

from egml.evaluation.resolution import iqr_resolution, median_response, sigma_eff
from egml.evaluation.roc import auc, efficiency_at_rejection, rejection_at_efficiency, roc_curve
from egml.evaluation.significance import signal_to_background
from egml.evaluation.working_points import (
    WorkingPointMap,
    fit_working_point,
    load_working_points,
    save_working_points,
)

__all__ = [
    "WorkingPointMap",
    "auc",
    "efficiency_at_rejection",
    "fit_working_point",
    "iqr_resolution",
    "load_working_points",
    "median_response",
    "rejection_at_efficiency",
    "roc_curve",
    "save_working_points",
    "sigma_eff",
    "signal_to_background",
]
