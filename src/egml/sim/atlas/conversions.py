"""Photon conversions in the ATLAS inner detector: padded photons → EM objects (PHYSICS.md §1.3 [K]).

Each photon slot k becomes two EM-object slots (2k, 2k+1). Unconverted photons (and those
converting in dead material or in the accordion) keep slot 2k with t0 = X_c and an empty 2k+1;
ID conversions (X_c < X_conv) become two legs of energies xE and (1−x)E, both starting at X_c,
bent in φ in opposite directions by ``bend_dphi`` evaluated at the L2 radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.atlas import geometry as geo
from egml.sim.atlas import material as mat
from egml.sim.atlas.objects import EMObjects

F32 = np.float32
# [K] Legs softer than ~0.3·B·R_B/2 ≈ 0.36 GeV curl up before the calorimeter, where the
# first-order bend formula breaks down; their displacement is capped so they land far outside
# any window (their energy then counts as lateral leakage) instead of wrapping around in φ.
MAX_BEND_DPHI = 1.0  # rad


@dataclass
class ConversionInfo:
    """Per photon slot (N, K): truth and reconstructed conversion information (§1.3)."""

    X_c: np.ndarray  # conversion depth (X0 from the first material)
    converted_true: np.ndarray  # bool: converted inside R < 800 mm
    R_conv_true: np.ndarray  # mm, 0 where not converted in the ID
    x_share: np.ndarray  # energy fraction of the positive leg (0 where unconverted)
    conv_type: np.ndarray  # int32 xAOD enum (0 unconverted … 5 doubleSiTRT)
    R_conv_reco: np.ndarray  # mm, 0 where reconstructed unconverted
    is_fake: np.ndarray  # bool: reconstructed conversion of a truly unconverted photon


def _reco_type(R: np.ndarray, double: np.ndarray, u_si_trt: np.ndarray) -> np.ndarray:
    si = R < mat.SI_MAX_RADIUS
    single = np.where(si, mat.SINGLE_SI, mat.SINGLE_TRT)
    two = np.where(
        si, np.where(u_si_trt < mat.DOUBLE_SI_TRT_FRACTION, mat.DOUBLE_SI_TRT, mat.DOUBLE_SI), mat.DOUBLE_TRT
    )
    return np.where(double, two, single).astype(np.int32)


def convert_photons(
    E: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    mat_scale: float = 1.0,
) -> tuple[EMObjects, ConversionInfo]:
    """Draw conversions for padded photons (N, K) and return EM objects (N, 2K) + ConversionInfo (N, K).

    Draws (all (N, K), fixed shape): U for X_c, U for the radius, U for x, U for the
    reconstruction efficiency, U for the fake rate, U for the conversion sub-type, a random leg
    charge assignment. Reconstruction: efficiency ε(R_conv); double-track needs the softer leg
    p_T > 0.5 GeV; Si types need R < 550 mm; 2 % of truly unconverted photons become fakes
    (single-track, radius drawn from the material profile).
    """
    E = np.asarray(E, dtype=F32)
    if E.ndim != 2:
        raise ValueError(f"convert_photons: expected padded (N, K) photons, got shape {E.shape}")
    eta = np.asarray(eta, dtype=F32)
    phi = np.asarray(phi, dtype=F32)
    mask = np.asarray(mask, dtype=bool) & (E > 0)
    n, k = E.shape
    u_c, u_r, u_x, u_eff, u_fake, u_type = rng.random((6, n, k))
    abs_eta = np.abs(eta)
    x_c = mat.conversion_depth(1.0 - u_c)  # 1 − U ∈ (0, 1]
    x_conv = mat.X_conv(abs_eta, mat_scale)
    conv = mask & (x_c < x_conv)
    R_true = np.where(conv, mat.radius_at_material_fraction(x_c / np.maximum(x_conv, F32(1e-6))), 0).astype(
        F32
    )
    x = np.where(conv, mat.pair_energy_share(u_x), 0).astype(F32)

    # legs: + charge gets x·E, − charge (1 − x)·E; bending at the L2 radius of each leg's direction
    pT = E / np.cosh(eta)
    R_L = mat.calo_radius_m(abs_eta, geo.R_LAYER[geo.L2], geo.Z_LAYER[geo.L2])
    R_c = R_true / F32(1000)
    pt_pos = np.maximum(x * pT, F32(1e-3))
    pt_neg = np.maximum((1 - x) * pT, F32(1e-3))
    cap = F32(MAX_BEND_DPHI)
    dphi_pos = np.where(conv, np.clip(mat.bend_dphi(R_c, R_L, pt_pos, 1.0, abs_eta), -cap, cap), 0)
    dphi_neg = np.where(conv, np.clip(mat.bend_dphi(R_c, R_L, pt_neg, -1.0, abs_eta), -cap, cap), 0)
    wrap = lambda a: ((a + np.pi) % (2 * np.pi) - np.pi).astype(F32)  # noqa: E731

    E1 = np.where(conv, x * E, E)
    E2 = np.where(conv, (1 - x) * E, 0)
    out_E = np.stack([E1, E2], axis=-1).reshape(n, 2 * k)
    out_eta = np.stack([eta, eta], axis=-1).reshape(n, 2 * k)
    out_phi = np.stack([wrap(phi + dphi_pos), wrap(phi + dphi_neg)], axis=-1).reshape(n, 2 * k)
    out_t0 = np.stack([x_c, x_c], axis=-1).reshape(n, 2 * k)
    out_mask = np.stack([mask, conv], axis=-1).reshape(n, 2 * k)
    objects = EMObjects(out_E, out_eta, out_phi, out_t0, out_mask & (out_E > 0))

    # reconstruction
    reco_true = conv & (u_eff < mat.reconstruction_efficiency(R_true))
    double = (np.minimum(x, 1 - x) * pT > mat.DOUBLE_TRACK_MIN_PT) & (R_true < mat.R_CONV_MAX)
    fake = mask & ~conv & (u_fake < mat.FAKE_CONVERSION_RATE)
    R_fake = mat.radius_at_material_fraction(u_r)
    conv_type = np.where(
        reco_true,
        _reco_type(R_true, double, u_type),
        np.where(fake, _reco_type(R_fake, np.zeros_like(fake), u_type), mat.UNCONVERTED),
    ).astype(np.int32)
    R_reco = np.where(reco_true, R_true, np.where(fake, R_fake, 0)).astype(F32)
    info = ConversionInfo(x_c, conv, R_true, x, conv_type, R_reco, fake)
    return objects, info
