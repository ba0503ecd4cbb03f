"""Relativistic two- and three-body decays of light mesons (PHYSICS.md §1.6), vectorised.

Kinematics run in float64 in a frame whose z axis is the parent meson's flight direction
(the candidate axis). Four-vectors are (..., 4) arrays (E, px, py, pz) in GeV. The final
daughters are mapped to calorimeter offsets with ``angular_offsets`` (§0: an opening angle θ
in azimuth ψ maps to Δη = θ·cos ψ·cosh η, Δφ = θ·sin ψ·cosh η). All random inputs are
passed in by the caller with fixed shapes (§0 rule 5).
"""

from __future__ import annotations

import numpy as np

# PDG masses (GeV) [K, §1.6]
M_PI0 = 0.134977
M_ETA = 0.547862
M_OMEGA = 0.78266
M_K0S = 0.497611
CTAU_K0S_MM = 26.8


def parent_along_z(p: np.ndarray, m: float) -> np.ndarray:
    """Four-vector (N, 4) of a parent of momentum p (GeV) and mass m moving along +z."""
    p = np.asarray(p, np.float64)
    z = np.zeros_like(p)
    return np.stack([np.sqrt(p * p + m * m), z, z, p], axis=-1)


def _unit(cos_t: np.ndarray, psi: np.ndarray) -> np.ndarray:
    sin_t = np.sqrt(np.clip(1 - cos_t * cos_t, 0, 1))
    return np.stack([sin_t * np.cos(psi), sin_t * np.sin(psi), cos_t], axis=-1)


def boost(rest: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Boost daughter four-vectors given in the parent rest frame into the frame of ``parent``."""
    e_p = parent[..., :1]
    m_p = np.sqrt(np.maximum(e_p[..., 0] ** 2 - (parent[..., 1:] ** 2).sum(-1), 1e-30))[..., None]
    beta = parent[..., 1:] / e_p
    gamma = e_p / m_p
    b2 = (beta * beta).sum(-1, keepdims=True)
    bq = (beta * rest[..., 1:]).sum(-1, keepdims=True)
    e = gamma * (rest[..., :1] + bq)
    coef = np.where(b2 > 0, (gamma - 1) * bq / np.where(b2 > 0, b2, 1), 0) + gamma * rest[..., :1]
    q = rest[..., 1:] + coef * beta
    return np.concatenate([e, q], axis=-1)


def two_body(
    parent: np.ndarray, m1: float, m2: float, cos_t: np.ndarray, psi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic two-body decay parent → 1 + 2 (rest-frame direction of 1 from cos θ*, ψ)."""
    m = np.sqrt(np.maximum(parent[..., 0] ** 2 - (parent[..., 1:] ** 2).sum(-1), 0))
    p_star = np.sqrt(np.maximum((m * m - (m1 + m2) ** 2) * (m * m - (m1 - m2) ** 2), 0)) / (2 * m)
    n = _unit(cos_t, psi) * p_star[..., None]
    d1 = np.concatenate([np.sqrt(p_star * p_star + m1 * m1)[..., None], n], axis=-1)
    d2 = np.concatenate([np.sqrt(p_star * p_star + m2 * m2)[..., None], -n], axis=-1)
    return boost(d1, parent), boost(d2, parent)


def _rotate(v: np.ndarray, a: np.ndarray, cos_b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Apply the uniform random rotation Rz(a)·Ry(b)·Rz(c) to 3-vectors v (..., 3)."""
    sin_b = np.sqrt(np.clip(1 - cos_b * cos_b, 0, 1))
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    cc, sc = np.cos(c), np.sin(c)
    x, y = cc * x - sc * y, sc * x + cc * y
    cb, sb = cos_b, sin_b
    x, z = cb * x + sb * z, -sb * x + cb * z
    ca, sa = np.cos(a), np.sin(a)
    x, y = ca * x - sa * y, sa * x + ca * y
    return np.stack([x, y, z], axis=-1)


def three_body_equal_mass(
    parent: np.ndarray, m_d: float, dalitz_u: np.ndarray, euler: np.ndarray
) -> np.ndarray:
    """Flat three-body phase space parent → 3 daughters of mass m_d (η → 3π0), (N, 3, 4).

    ``dalitz_u`` (N, S, 2) are uniforms for S-fold over-sampling of the Dalitz box; the first
    point inside the Dalitz region is used, else the symmetric point (deterministic fallback,
    §0). ``euler`` (N, 3) uniforms give the random orientation.
    """
    m = np.sqrt(parent[:, 0] ** 2 - (parent[:, 1:] ** 2).sum(-1))[:, None]
    lo, hi = (2 * m_d) ** 2, (m - m_d) ** 2
    s12 = lo + (hi - lo) * dalitz_u[..., 0]
    s23 = lo + (hi - lo) * dalitz_u[..., 1]
    s13 = m * m + 3 * m_d * m_d - s12 - s23
    e1, e3 = (m * m + m_d**2 - s23) / (2 * m), (m * m + m_d**2 - s12) / (2 * m)
    e2 = m - e1 - e3
    p1, p2, p3 = (np.sqrt(np.maximum(e * e - m_d * m_d, 0)) for e in (e1, e2, e3))
    # inside the Dalitz region ⇔ the three momenta close a triangle (and s13 in range)
    inside = (p1 <= p2 + p3) & (p2 <= p1 + p3) & (p3 <= p1 + p2) & (s13 >= lo) & (e2 >= m_d)
    first = np.argmax(inside, axis=1)
    ok = inside.any(axis=1)
    rows = np.arange(len(m))

    def pick(x: np.ndarray, sym: np.ndarray) -> np.ndarray:
        return np.where(ok, x[rows, first], sym)

    e_sym = m[:, 0] / 3
    e1, e2, e3 = pick(e1, e_sym), pick(e2, e_sym), pick(e3, e_sym)
    p1, p2, p3 = (np.sqrt(np.maximum(e * e - m_d * m_d, 0)) for e in (e1, e2, e3))
    cos13 = np.clip((p2 * p2 - p1 * p1 - p3 * p3) / np.maximum(2 * p1 * p3, 1e-30), -1, 1)
    z = np.zeros_like(p1)
    v1 = np.stack([z, z, p1], -1)
    v3 = np.stack([p3 * np.sqrt(1 - cos13 * cos13), z, p3 * cos13], -1)
    v2 = -(v1 + v3)
    a, cos_b, c = 2 * np.pi * euler[:, 0], 2 * euler[:, 1] - 1, 2 * np.pi * euler[:, 2]
    rest = np.stack(
        [
            np.concatenate([e[:, None], _rotate(v, a, cos_b, c)], -1)
            for e, v in ((e1, v1), (e2, v2), (e3, v3))
        ],
        axis=1,
    )
    return boost(rest, parent[:, None, :])


def angular_offsets(p4: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E, Δη, Δφ) of daughters (N, K, 4) relative to the +z (candidate) axis at pseudorapidity η."""
    p = p4[..., 1:]
    pt = np.sqrt(p[..., 0] ** 2 + p[..., 1] ** 2)
    theta = np.arctan2(pt, p[..., 2])
    psi = np.arctan2(p[..., 1], p[..., 0])
    ch = np.cosh(np.asarray(eta, np.float64))[:, None]
    return p4[..., 0], theta * np.cos(psi) * ch, theta * np.sin(psi) * ch
