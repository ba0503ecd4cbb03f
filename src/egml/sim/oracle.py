"""Oracle energy resolution of the T4 calibration task (PHYSICS.md §5 "Ideal" resolution).

O1 is the Fisher bound of the minimum-variance unbiased linear estimator of E when every
latent loss and the miscalibration map are known and only the per-cell stochastic terms
remain. Each cell c of the fixed generation window (PS, L1–L3, TileGap3; before clustering
or zero suppression) measures E_c = E·f_c + ε_c with f_c = m_c·λ_c/E and
Var ε_c = v_c = m_c²·a_c²·max(λ_c, 0) + σ_el,c² + σ_pu,c²·μ/40, so

    σ²_O1 = [Σ_c f_c²/v_c]⁻¹.

The Fisher term from the E-dependence of v_c (½Σ(a²f_c)²/v_c²) is dropped on purpose (§5:
it is unphysical information). O1 has no constant term by construction. O1′ adds the
constant term of an unknown map:

    σ_O1′ = σ_O1 ⊕ E·√(σ_reg² + σ_cell²·Σf_c²/(Σf_c)²).

O1 bounds estimators that use the calorimeter only. Converted photons also carry the conversion
tracks' p_T (convEtOverPt), measured to about 1 % at low E_T where σ_O1/E is about 4 %, so a
model reading it can beat O1 there: that is information, not a violated bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

F32 = np.float32
SIGMA_REG = 0.0064  # spread of the regional miscalibration m_reg (§1.5, §5)
SIGMA_CELL = 0.005  # spread of the per-cell miscalibration m_cell (§1.5, §5)


@dataclass
class OracleCells:
    """Per-cell inputs of one layer, any shape (N, ...): the leading axis is the candidate."""

    expected: np.ndarray  # λ_c, expected EM-scale deposit (GeV), before miscalibration
    miscalibration: np.ndarray  # m_c = m_reg·m_cell
    sampling: np.ndarray | float  # a_c, stochastic term (GeV^½), a_PS for the presampler
    noise_var: np.ndarray  # σ_el,c² + σ_pu,c²·μ/40 (GeV²)
    exists: np.ndarray | None = None  # cells that do not exist carry no information


@dataclass
class OracleResolution:
    sigma_O1: np.ndarray  # (N,) GeV
    sigma_O1p: np.ndarray  # (N,) GeV, O1′ (map unknown)
    visible_fraction: np.ndarray  # F_vis = Σ_c λ_c/E (N,)


def _per_candidate_sum(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1).sum(axis=1, dtype=np.float64)


def oracle_resolution(E_true: np.ndarray, layers: Iterable[OracleCells]) -> OracleResolution:
    """σ_O1, σ_O1′ and F_vis per candidate from the cells of its whole generation window (§5).

    Per-cell terms in float32 (relative rounding ~1e-7), per-candidate sums in float64.
    """
    E = np.asarray(E_true, dtype=np.float64)
    if E.ndim != 1 or np.any(~(E > 0)):
        raise ValueError("oracle_resolution: E_true must be a 1-D array of positive energies (GeV)")
    inv_E = (1.0 / E).astype(F32)
    info = np.zeros_like(E)  # Σ f²/v
    sum_f = np.zeros_like(E)
    sum_f2 = np.zeros_like(E)
    sum_lam = np.zeros_like(E)
    n_layers = 0
    for cells in layers:
        lam = np.asarray(cells.expected, dtype=F32)
        if lam.shape[0] != E.shape[0]:
            raise ValueError(f"oracle_resolution: layer has {lam.shape[0]} candidates, expected {E.shape[0]}")
        m = np.asarray(cells.miscalibration, dtype=F32)
        ma = m * np.asarray(cells.sampling, dtype=F32)
        v = ma * ma * np.maximum(lam, F32(0)) + np.asarray(cells.noise_var, dtype=F32)
        ok = v > 0
        if cells.exists is not None:
            ok &= np.asarray(cells.exists, dtype=bool)
        bshape = (-1,) + (1,) * (lam.ndim - 1)
        f = np.where(ok, m * lam, F32(0)) * inv_E.reshape(bshape)
        f2 = f * f
        info += _per_candidate_sum(f2 / np.where(ok, v, F32(1)))
        sum_f += _per_candidate_sum(f)
        sum_f2 += _per_candidate_sum(f2)
        sum_lam += _per_candidate_sum(np.where(ok, lam, F32(0)))
        n_layers += 1
    if n_layers == 0:
        raise ValueError("oracle_resolution: expected at least one layer of cells, got none")
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(info > 0, 1.0 / np.sqrt(info), np.inf)
        const = E * np.sqrt(SIGMA_REG**2 + SIGMA_CELL**2 * np.where(sum_f > 0, sum_f2 / sum_f**2, 0.0))
    return OracleResolution(
        sigma.astype(np.float32),
        np.hypot(sigma, const).astype(np.float32),
        (sum_lam / E).astype(np.float32),
    )
