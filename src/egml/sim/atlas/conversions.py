"""Photon conversions in the ATLAS inner detector: padded photons → EM objects (PHYSICS.md §1.3 [K]).

Each photon slot k becomes two EM-object slots (2k, 2k+1). Unconverted photons (and those
converting in dead material or in the accordion) keep slot 2k with t0 = X_c and an empty 2k+1;
ID conversions (X_c < X_conv) become two legs of energies xE and (1−x)E, both starting at X_c,
bent in φ in opposite directions by ``bend_dphi``: the legs' φ is the landing φ at the L2
radius and ``bend`` carries the per-layer correction, so that every layer (PS, L1, L2, L3) sees
Δφ(R_c, R_L) at its own R_L (``layer_phi``).

``leg_brem`` applies the §3 common electron model to e± legs (Bethe–Heitler z over the ID
material still ahead, one brem photon on the tangent at R_b, the leg from t0 = X_ID). T2 uses
it for its conversion and Dalitz legs (§3: every real e± candidate follows the electron model).
T1 keeps the §1.3/§1.4 legs literally (xE and (1−x)E from t0 = X_c, no leg brem): with leg
brem the converted-γ Rφ median moved by less than its statistical error (≈ 0.004 on ~800
converted 50 GeV γ) while T1 generation slowed by ~10 % (more EM objects).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egml.sim.atlas import geometry as geo
from egml.sim.atlas import material as mat
from egml.sim.atlas.objects import EMObjects
from egml.sim.tracking import bethe_heitler_z

F32 = np.float32
# [K] Legs softer than ~0.3·B·R_B/2 ≈ 0.36 GeV curl up before the calorimeter, where the
# first-order bend formula breaks down; their displacement is capped so they land far outside
# any window (their energy then counts as lateral leakage) instead of wrapping around in φ.
MAX_BEND_DPHI = 1.0  # rad


def bend_coefficient(R_c: np.ndarray, pT: np.ndarray, q: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """b (rad·m) with Δφ(R_L) = Δφ(R_L2) + b·(1/R_L2 − 1/R_L) for a charge q made at R_c (m).

    §1.3: Δφ = −q(κ/R_L)[s²/2 + s(R_L − R_B)] = −qκs − (−qκs)(R_B − s/2)/R_L, s = max(R_B − R_c, 0),
    so b = −q·κ·s·(R_B − s/2), with the endcap R_B,eff of ``material.bend_dphi``.
    """
    sh = np.maximum(np.sinh(np.abs(np.asarray(abs_eta, F32))), F32(1e-6))
    r_b = np.minimum(F32(mat.R_FIELD_M), F32(mat.Z_FIELD_M) / sh)
    s_b = np.maximum(r_b - np.asarray(R_c, F32), 0)
    kappa = F32(mat.KAPPA_PER_T_GEV * mat.B_FIELD_T) / np.asarray(pT, F32)
    return (-np.sign(np.asarray(q, F32)) * kappa * s_b * (r_b - s_b / 2)).astype(F32)


def layer_phi(
    phi: np.ndarray, bend: np.ndarray, abs_eta: np.ndarray, layer: int, r2: np.ndarray | None = None
) -> np.ndarray:
    """Landing φ at ``layer`` of objects whose ``phi`` is the landing φ at the L2 radius (§1.3).

    r2: ``l2_radius(abs_eta)`` when the caller already has it (several layers, same objects).
    """
    if layer == geo.L2:
        return phi
    r2 = l2_radius(abs_eta) if r2 is None else r2
    r_l = mat.calo_radius_m(abs_eta, geo.R_LAYER[layer], geo.Z_LAYER[layer], geo.BARREL_LIMIT[layer])
    d = phi + bend * (1 / r2 - 1 / r_l)
    return ((d + np.pi) % (2 * np.pi) - np.pi).astype(F32)


def l2_radius(abs_eta: np.ndarray) -> np.ndarray:
    """R_L (m) of the L2 layer at |η|: the reference radius of the landing φ (``layer_phi``)."""
    return mat.calo_radius_m(abs_eta, geo.R_LAYER[geo.L2], geo.Z_LAYER[geo.L2], geo.BARREL_LIMIT[geo.L2])


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


@dataclass
class LegBrem:
    """A conversion/Dalitz leg after the ID (§3 common electron model), arrays of the legs' shape."""

    E_leg: np.ndarray  # z·E: the leg after the ID, starting its profile at t0 = X_ID
    phi_leg: np.ndarray  # landing φ of the leg (bent with p_T to R_b, z·p_T after it)
    E_brem: np.ndarray  # (1 − z)·E: the brem photon
    phi_brem: np.ndarray  # landing φ of the brem photon (the leg's tangent at R_b)
    t0_brem: np.ndarray  # X(R_b) + Exp(9/7 X0)
    z: np.ndarray  # Bethe–Heitler fraction kept over X_ID − X_c


def leg_brem(
    E: np.ndarray,
    pT: np.ndarray,
    q: np.ndarray,
    phi_dir: np.ndarray,
    f_c: np.ndarray,
    x_id: np.ndarray,
    abs_eta: np.ndarray,
    R_L: np.ndarray,
    u: np.ndarray,
    active: np.ndarray,
) -> LegBrem:
    """Brem of e± legs born at the material fraction f_c of X_ID (R_c from the radial profile).

    ``u`` (3, *shape) are fixed-shape uniforms (brem point, z, photon start); everything is
    evaluated only on the ``active`` legs (the others keep E, φ_dir, z = 1 and no brem photon).
    The brem point is uniform in the material still ahead, f_b = f_c + U·(1 − f_c) (§3).
    """
    shape = np.shape(E)
    full = lambda a: np.broadcast_to(np.asarray(a, F32), shape)  # noqa: E731
    E, pT, q, phi_dir, f_c, x_id, abs_eta, R_L = (
        full(a) for a in (E, pT, q, phi_dir, f_c, x_id, abs_eta, R_L)
    )
    idx = np.nonzero(np.broadcast_to(active, shape))
    e, fc, xid, ae, rl, qq = E[idx], f_c[idx], x_id[idx], abs_eta[idx], R_L[idx], q[idx]
    z = bethe_heitler_z(u[1][idx], xid * (1 - fc))
    f_b = (fc + u[0][idx] * (1 - fc)).astype(F32)
    r_c = mat.radius_at_material_fraction(fc) / F32(1000)
    r_b = mat.radius_at_material_fraction(f_b) / F32(1000)
    pt = np.maximum(pT[idx], F32(1e-3))
    cap = F32(MAX_BEND_DPHI)
    to_b = mat.bend_dphi(r_c, rl, pt, qq, ae) - mat.bend_dphi(r_b, rl, pt, qq, ae)
    after_b = mat.bend_dphi(r_b, rl, np.maximum(z * pt, F32(1e-3)), qq, ae)
    wrap = lambda a: ((a + np.pi) % (2 * np.pi) - np.pi).astype(F32)  # noqa: E731

    def scatter(default: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.array(default, dtype=F32, copy=True)
        out[idx] = values
        return out

    zeros = np.zeros(shape, F32)
    return LegBrem(
        E_leg=scatter(E, z * e),
        phi_leg=scatter(phi_dir, wrap(phi_dir[idx] + np.clip(to_b + after_b, -cap, cap))),
        E_brem=scatter(zeros, (1 - z) * e),
        phi_brem=scatter(phi_dir, wrap(phi_dir[idx] + np.clip(to_b, -cap, cap))),
        t0_brem=scatter(zeros, f_b * xid + mat.conversion_depth(1.0 - u[2][idx])),
        z=scatter(np.ones(shape, F32), z),
    )


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
    # the conversion maths only on the (few) converted slots ci; 0 elsewhere
    ci = np.nonzero(conv)
    R_true, x, dphi_pos, dphi_neg, b_pos, b_neg = (np.zeros((n, k), F32) for _ in range(6))
    R_true[ci] = mat.radius_at_material_fraction(x_c[ci] / np.maximum(x_conv[ci], F32(1e-6)))
    x[ci] = mat.pair_energy_share(u_x[ci])

    # legs: + charge gets x·E, − charge (1 − x)·E; bending at the L2 radius of each leg's direction
    pT = E / np.cosh(eta)
    ae = abs_eta[ci]
    R_L = mat.calo_radius_m(ae, geo.R_LAYER[geo.L2], geo.Z_LAYER[geo.L2])
    R_c = R_true[ci] / F32(1000)
    cap = F32(MAX_BEND_DPHI)
    # per-layer Δφ(R_L) (layer_phi); capped (curling) legs keep their capped φ in every layer
    for q, leg_x, dphi, b in ((1.0, x[ci], dphi_pos, b_pos), (-1.0, 1 - x[ci], dphi_neg, b_neg)):
        pt = np.maximum(leg_x * pT[ci], F32(1e-3))
        dphi[ci] = np.clip(mat.bend_dphi(R_c, R_L, pt, q, ae), -cap, cap)
        b[ci] = np.where(np.abs(dphi[ci]) < cap, bend_coefficient(R_c, pt, q, ae), 0)
    wrap = lambda a: ((a + np.pi) % (2 * np.pi) - np.pi).astype(F32)  # noqa: E731

    E1 = np.where(conv, x * E, E)
    E2 = np.where(conv, (1 - x) * E, 0)
    out_E = np.stack([E1, E2], axis=-1).reshape(n, 2 * k)
    out_eta = np.stack([eta, eta], axis=-1).reshape(n, 2 * k)
    out_phi = np.stack([wrap(phi + dphi_pos), wrap(phi + dphi_neg)], axis=-1).reshape(n, 2 * k)
    out_t0 = np.stack([x_c, x_c], axis=-1).reshape(n, 2 * k)
    out_mask = np.stack([mask, conv], axis=-1).reshape(n, 2 * k)
    out_bend = np.stack([b_pos, b_neg], axis=-1).reshape(n, 2 * k)
    objects = EMObjects(out_E, out_eta, out_phi, out_t0, out_mask & (out_E > 0), out_bend)

    # reconstruction
    reco_true = conv & (u_eff < mat.reconstruction_efficiency(R_true))
    double = (np.minimum(x, 1 - x) * pT > mat.DOUBLE_TRACK_MIN_PT) & (R_true < mat.R_CONV_MAX)
    fake = mask & ~conv & (u_fake < mat.FAKE_CONVERSION_RATE)
    R_fake = np.zeros((n, k), F32)  # only read where fake
    fi = np.nonzero(fake)
    R_fake[fi] = mat.radius_at_material_fraction(u_r[fi])
    conv_type = np.where(
        reco_true,
        _reco_type(R_true, double, u_type),
        np.where(fake, _reco_type(R_fake, np.zeros_like(fake), u_type), mat.UNCONVERTED),
    ).astype(np.int32)
    R_reco = np.where(reco_true, R_true, np.where(fake, R_fake, 0)).astype(F32)
    info = ConversionInfo(x_c, conv, R_true, x, conv_type, R_reco, fake)
    return objects, info
