"""Event-level draws of T2 and the physical weights of its processes (PHYSICS.md §1.1, §3 class mix).

One generation spectrum for every process: truth p_T log-uniform in [0.8·4.5, 1.25·1000] GeV,
|η| uniform below 2.47 outside 1.37–1.52. The physical spectra and the physical class mix
enter only through ``weight_phys`` [K].
"""

from __future__ import annotations

import numpy as np

from egml.physics.isolation import rho_true
from egml.sim.atlas import material
from egml.sim.electron_sources import (
    BR_DALITZ,
    BR_GAMMA_GAMMA,
    HADRON,
    HEAVY_FLAVOUR,
    N_PROCESSES,
    PE,
    PHOTON_CONV,
    PI0_ELECTRON,
    TRIDENT,
)

F32 = np.float32

PT_GEN = (0.8 * 4.5, 1.25 * 1000.0)  # GeV (§3 class mix, §0 rule 2)
ETA_MAX, CRACK = 2.47, (1.37, 1.52)  # §1.1
Z_VERTEX_SIGMA_MM = 35.0  # §1.1 [K]
# Run-2 pileup (§1.1 [K]): per-year ⟨μ⟩, luminosity weights (fb⁻¹), Gamma shape k = 8
MU_MEANS = np.array([13.4, 25.1, 37.8, 36.1])
MU_LUMI = np.array([3.2, 33.0, 44.3, 58.5])
MU_SHAPE = 8.0
NPV_PER_MU = 0.6  # n_PV ~ Poisson(0.6 μ + 1) (§6)

# physical mix (§3 [K]); prompt e± (PE ∪ CF) share one entry, split by the trident forcing
PHYS_MIX = {"prompt_e": 0.31, "PC": 0.10, "HF": 0.10, "LFEg": 0.14, "LFH": 0.35}
JACOBIAN_PEAK, JACOBIAN_WIDTH, PROMPT_TAIL = 40.0, 6.0, 0.03  # W/Z-like E_T spectrum [K]
N_PROMPT_PHOTON, N_JET = 4.5, 5.5  # power laws p_T^-n (§1.1)


def event_draws(
    rng: np.random.Generator, n: int, n_processes: int = N_PROCESSES, mu_offset: float = 0.0
) -> dict[str, np.ndarray]:
    """Process, p_T, η, φ, z_v, μ, ρ, n_PV and an event number per candidate (fixed shapes)."""
    u = rng.random((n, 6))
    process = np.minimum((u[:, 0] * n_processes).astype(np.int64), n_processes - 1)
    pt = np.exp(np.log(PT_GEN[0]) + u[:, 1] * np.log(PT_GEN[1] / PT_GEN[0]))
    width = ETA_MAX - (CRACK[1] - CRACK[0])
    a = u[:, 2] * width
    a = np.where(a > CRACK[0], a + (CRACK[1] - CRACK[0]), a)
    eta = np.where(u[:, 3] < 0.5, -a, a)
    phi = -np.pi + 2 * np.pi * u[:, 4]
    year = np.searchsorted(np.cumsum(MU_LUMI) / MU_LUMI.sum(), u[:, 5], side="right")
    mu = rng.gamma(MU_SHAPE, 1.0, n) * MU_MEANS[np.minimum(year, 3)] / MU_SHAPE + mu_offset
    z_v = rng.normal(0.0, Z_VERTEX_SIGMA_MM, n)
    n_pv = rng.poisson(NPV_PER_MU * mu + 1)
    event = rng.integers(1, 2**40, n)
    return {
        "process": process,
        "pt": pt.astype(F32),
        "eta": eta.astype(F32),
        "phi": phi.astype(F32),
        "mu": mu.astype(F32),
        "z_v": z_v.astype(F32),
        "rho": rho_true(mu).astype(F32),
        "n_pv": n_pv.astype(np.int32),
        "event": event.astype(np.int64),
    }


def _shape(process: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Physical p_T density of each process (arbitrary normalisation) [K]."""
    pt = np.asarray(pt, np.float64)
    prompt_e = np.exp(-0.5 * ((pt - JACOBIAN_PEAK) / JACOBIAN_WIDTH) ** 2) + PROMPT_TAIL * np.minimum(
        1.0, (pt / JACOBIAN_PEAK) ** -N_JET
    )
    return np.select(
        [np.isin(process, (PE, TRIDENT)), process == PHOTON_CONV],
        [prompt_e, pt**-N_PROMPT_PHOTON],
        pt**-N_JET,
    )


def _mean_over_generation(values_fn) -> float:
    """Mean of values_fn(p_T) over the log-uniform generation spectrum (fine log grid)."""
    grid = np.exp(np.linspace(np.log(PT_GEN[0]), np.log(PT_GEN[1]), 20001))
    return float(values_fn(grid).mean())


def _mean_p_conv() -> float:
    a = np.linspace(0, ETA_MAX, 4001)
    a = a[(a < CRACK[0]) | (a > CRACK[1])]
    return float(material.conversion_probability(material.X_conv(a)).mean())


_SHAPE_NORM = {
    p: _mean_over_generation(lambda x, p=p: _shape(np.full(x.shape, p), x) * x) for p in range(N_PROCESSES)
}
_MEAN_P_CONV = _mean_p_conv()
_PI0_NORM = BR_DALITZ + 2 * BR_GAMMA_GAMMA * _MEAN_P_CONV


def weight_phys(process: np.ndarray, pt: np.ndarray, eta: np.ndarray, force: np.ndarray) -> np.ndarray:
    """Weight turning the uniform generation into the physical mix and spectra (§3 class mix).

    = share(process family) × N_processes × [p_T·f(p_T)/⟨p_T·f⟩] × forcing factor, where the
    forcing factor is P(forced trident) or its complement for prompt e±, P_conv/⟨P_conv⟩ for
    prompt-photon conversions and BR/⟨BR⟩ for the π0 Dalitz/conversion split. Truth p_T only.
    """
    process = np.asarray(process)
    norm = np.array([_SHAPE_NORM[p] for p in range(N_PROCESSES)])[process]
    spectrum = _shape(process, pt) * np.asarray(pt, np.float64) / norm
    share = np.select(
        [
            np.isin(process, (PE, TRIDENT)),
            process == PHOTON_CONV,
            process == HEAVY_FLAVOUR,
            process == PI0_ELECTRON,
            process == HADRON,
        ],
        [PHYS_MIX["prompt_e"] * 2, PHYS_MIX["PC"], PHYS_MIX["HF"], PHYS_MIX["LFEg"], PHYS_MIX["LFH"]],
        0.0,
    )
    # the two prompt-e± processes (1/6 each) share one family: share ×2 above and ×½ here, with
    # forcing factors (1 − P_trident, P_trident) that sum to 1 at each η
    f = np.asarray(force, np.float64)
    factor = np.select(
        [np.isin(process, (PE, TRIDENT)), process == PHOTON_CONV, process == PI0_ELECTRON],
        [f * 0.5, f / _MEAN_P_CONV, f / _PI0_NORM],
        1.0,
    )
    return (share * N_PROCESSES * spectrum * factor).astype(F32)
