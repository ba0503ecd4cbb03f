"""T4 particles → EM objects: electrons with their brem photon, photons with conversions (§1.3, §3, §5).

Every candidate gets two padded object slots (fixed shape, §0 rule 5):

- e± (§3 common electron model): slot 0 is the electron, energy z·E with z from Bethe–Heitler
  over X_ID = X_conv·mat_scale, starting at t0 = X_ID; slot 1 is one brem photon of energy
  (1−z)·E emitted at the material fraction f_b ~ U(0, 1) of X_ID (radius R_b from the radial
  profile) and starting at t0 = f_b·X_ID + Exp(9/7 X0). The electron bends with p_T before R_b
  and z·p_T after it; the photon follows the tangent at R_b (linear in κ, as ``bend_dphi``).
- γ (§1.3): conversion depth X_c = −(9/7)·ln U. X_c < X_conv: converted in the ID at R_conv
  (inverse radial profile), two legs x·E and (1−x)·E bent from R_conv, both from t0 = X_c.
  Otherwise slot 0 is the photon itself from t0 = X_c (dead-material or accordion start).

Departure: PHYSICS.md lists a shared ``convert_photons`` in ``egml.sim.atlas.material``; it did
not exist when this was written, so the conversion and reconstruction model lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.atlas import geometry as geo
from egml.sim.atlas import material as mat
from egml.sim.atlas.objects import EMObjects
from egml.sim.tracking import bethe_heitler_z, curvature_resolution

F32 = np.float32
ELECTRON, UNCONVERTED, CONVERTED = 0, 1, 2  # particleType (§5)
CONV_PT_MIN_FOR_RADIUS = 3.0  # GeV: convR = 799 below this conversion p_T (§5, ATLAS MVA convention)
CONV_R_DEFAULT = 799.0  # mm
CONV_ET_OVER_PT_CAP = 2.0  # §5
R_CONV_SMEAR_MM = 5.0  # [K] resolution of the reconstructed conversion radius
N_UNIFORMS = 8  # uniforms per candidate (fixed shape)


@dataclass
class T4Objects:
    """EM objects plus truth and reconstructed conversion/track information, all (N,) unless noted."""

    em: EMObjects  # (N, 2)
    axis_phi: np.ndarray  # φ of the generation-window axis (impact of the leading object)
    track_phi_range: tuple[np.ndarray, np.ndarray]  # e±: (perigee φ, φ at L2); NaN otherwise
    conv_type: np.ndarray  # reconstructed xAOD conversion type (0 for e± and unconverted)
    conv_R: np.ndarray  # reconstructed conversion radius (mm), 0 if none
    conv_pt: np.ndarray  # Σ p_T of the conversion tracks (GeV), 0 if none
    conv_pt_ratio: np.ndarray  # leading-track p_T / Σ p_T (1 for single-track), 0 if none
    truth_conv_R: np.ndarray  # true conversion radius (mm), 0 if not converted in the ID


def _l2_radius_m(abs_eta: np.ndarray) -> np.ndarray:
    return mat.calo_radius_m(abs_eta, geo.R_LAYER[geo.L2], geo.Z_LAYER[geo.L2], geo.BARREL_EDGE)


def t4_objects(
    is_electron: np.ndarray,
    E: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    q: np.ndarray,
    rng: np.random.Generator,
    mat_scale: float = 1.0,
) -> T4Objects:
    """EM objects of N T4 particles (e± where ``is_electron``, else γ); q = ±1 (ignored for γ)."""
    n = E.shape[0]
    u = rng.random((n, N_UNIFORMS))
    g = rng.standard_normal((n, 3)).astype(F32)
    E = np.asarray(E, F32)
    a_eta = np.abs(eta)
    pt = (E / np.cosh(eta)).astype(F32)
    R_L = _l2_radius_m(a_eta)
    x_id = mat.X_conv(a_eta, mat_scale)
    x_up = mat.X_up(a_eta, mat_scale)

    # --- electrons (§3) ---
    z = bethe_heitler_z(u[:, 0], x_id)
    f_b = u[:, 1].astype(F32)
    R_b = mat.radius_at_material_fraction(f_b) / F32(1000)  # m
    t0_brem = f_b * x_id - F32(mat.PAIR_MFP) * np.log1p(-u[:, 2]).astype(F32)
    bend_all = mat.bend_dphi(0.0, R_L, pt, q, a_eta)
    bend_late = mat.bend_dphi(R_b, R_L, pt, q, a_eta)
    bend_late_soft = mat.bend_dphi(R_b, R_L, np.maximum(z * pt, F32(1e-3)), q, a_eta)
    phi_e = phi + bend_all - bend_late + bend_late_soft
    phi_brem = phi + bend_all - bend_late

    # --- photons (§1.3) ---
    x_c = mat.conversion_depth(1.0 - u[:, 3])
    conv_id = x_c < x_id
    R_conv = np.where(conv_id, mat.radius_at_material_fraction(x_c / x_id), 0.0).astype(F32)
    x = mat.pair_energy_share(u[:, 4])
    R_c_m = R_conv / F32(1000)
    phi_leg1 = phi + mat.bend_dphi(R_c_m, R_L, np.maximum(x * pt, F32(1e-3)), 1.0, a_eta)
    phi_leg2 = phi + mat.bend_dphi(R_c_m, R_L, np.maximum((1 - x) * pt, F32(1e-3)), -1.0, a_eta)
    e_gamma0 = np.where(conv_id, x * E, E)

    ele = np.asarray(is_electron, bool)
    E0 = np.where(ele, z * E, e_gamma0)
    E1 = np.where(ele, (1 - z) * E, np.where(conv_id, (1 - x) * E, 0.0))
    phi0 = np.where(ele, phi_e, np.where(conv_id, phi_leg1, phi))
    phi1 = np.where(ele, phi_brem, phi_leg2)
    t00 = np.where(ele, x_id, x_c)
    t01 = np.where(ele, t0_brem, x_c)
    wrap = lambda p: ((p + np.pi) % (2 * np.pi) - np.pi).astype(F32)  # noqa: E731
    em = EMObjects(
        E=np.stack([E0, E1], axis=1),
        eta=np.stack([eta, eta], axis=1),
        phi=wrap(np.stack([phi0, phi1], axis=1)),
        t0=np.minimum(np.stack([t00, t01], axis=1), x_up[:, None] + F32(40.0)),
        mask=np.stack([np.ones(n, bool), ele | conv_id], axis=1),
    )

    # --- conversion reconstruction (§1.3 [K]) ---
    gamma_conv = ~ele & conv_id
    found = gamma_conv & (u[:, 5] < mat.reconstruction_efficiency(R_conv))
    fake = ~ele & ~conv_id & (u[:, 5] < mat.FAKE_CONVERSION_RATE)
    pt_soft = np.minimum(x, 1 - x) * pt
    double = found & (pt_soft > mat.DOUBLE_TRACK_MIN_PT)
    si = R_conv < mat.SI_MAX_RADIUS
    dbl_type = np.where(
        si, np.where(u[:, 6] < mat.DOUBLE_SI_TRT_FRACTION, mat.DOUBLE_SI_TRT, mat.DOUBLE_SI), mat.DOUBLE_TRT
    )
    conv_type = np.where(double, dbl_type, np.where(found, np.where(si, mat.SINGLE_SI, mat.SINGLE_TRT), 0))
    R_fake = mat.radius_at_material_fraction(u[:, 7])
    conv_type = np.where(fake, np.where(R_fake < mat.SI_MAX_RADIUS, mat.SINGLE_SI, mat.SINGLE_TRT), conv_type)
    R_true_reco = np.where(fake, R_fake, R_conv)
    conv_R = np.where(conv_type > 0, np.maximum(R_true_reco + F32(R_CONV_SMEAR_MM) * g[:, 0], 0.0), 0.0)
    # track p_T: both legs for double-track, the harder leg for single-track (fakes: the photon)
    leg_frac = np.where(double, 1.0, np.where(found, np.maximum(x, 1 - x), 1.0))
    pt_tracks = leg_frac * pt / (1 + curvature_resolution(leg_frac * pt) * g[:, 1])
    conv_pt = np.where(conv_type > 0, np.abs(pt_tracks), 0.0)
    ratio = np.where(double, np.maximum(x, 1 - x), 1.0)
    conv_pt_ratio = np.where(conv_type > 0, ratio, 0.0)

    lead = np.where(ele | ~conv_id | (x >= 0.5), phi0, phi1)
    nan = np.full(n, np.nan, F32)
    return T4Objects(
        em=em,
        axis_phi=wrap(lead),
        track_phi_range=(np.where(ele, phi, nan).astype(F32), np.where(ele, wrap(phi_e), nan).astype(F32)),
        conv_type=conv_type.astype(np.int32),
        conv_R=conv_R.astype(F32),
        conv_pt=conv_pt.astype(F32),
        conv_pt_ratio=conv_pt_ratio.astype(F32),
        truth_conv_R=np.where(gamma_conv, R_conv, 0.0).astype(F32),
    )


def conversion_branches(obj: T4Objects, cl_et: np.ndarray) -> dict[str, np.ndarray]:
    """convR, convEtOverPt, convPtRatio, convType as the ATLAS MVA calibration uses them (§5)."""
    has = obj.conv_type > 0
    conv_R = np.where(obj.conv_pt < CONV_PT_MIN_FOR_RADIUS, CONV_R_DEFAULT, obj.conv_R)
    with np.errstate(divide="ignore", invalid="ignore"):
        et_over_pt = np.minimum(cl_et / np.where(has, obj.conv_pt, 1.0), CONV_ET_OVER_PT_CAP)
    return {
        "convR": np.where(has, conv_R, 0.0).astype(F32),
        "convEtOverPt": np.where(has, np.nan_to_num(et_over_pt), 0.0).astype(F32),
        "convPtRatio": obj.conv_pt_ratio.astype(F32),
        "convType": obj.conv_type.astype(np.int32),
    }
