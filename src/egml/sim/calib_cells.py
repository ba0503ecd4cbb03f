"""T4 cell sets and cluster variables from the supercluster of each candidate (PHYSICS.md §5, §7).

The generation window of every candidate is a list of :class:`WindowLayer` (PS, L1, L2, L3 and
TileGap3), each a per-candidate grid of cells with the measured energy and the components the
latents need. :func:`cluster_columns` turns the cells selected by the supercluster into the
jagged ``cell_*`` branches (ordered by layer, then η, then φ) and the ``cl_*`` branches.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from egml.sim.atlas import geometry as geo

F32 = np.float32
TILEGAP3 = 4  # cell_layer of the TileGap3 scintillator (§5 cell features)
N_CLUSTER_LAYERS = 5  # PS, L1, L2, L3, TileGap3


@dataclass
class WindowLayer:
    """One layer of the fixed generation window, all cell arrays (N, n_eta, n_phi) float32.

    ``exists`` marks cells that exist *and* lie inside the generation window. φ edges are
    continuous (may pass ±π); centres are wrapped to [−π, π). ``geometry_layer`` is the layer
    used for the cell position (TileGap3 uses the HAD1 radius).
    """

    layer: int  # cell_layer: 0 PS, 1, 2, 3, 4 TileGap3
    geometry_layer: int
    energy: np.ndarray  # measured E_c (GeV, EM scale, may be negative)
    expected: np.ndarray  # λ_c (GeV, EM scale; PS: w_PS × deposit)
    noise_el: np.ndarray  # σ_el·N₂ part of E_c
    noise_pu: np.ndarray  # σ_pu·√(μ/40)·N₃ part of E_c
    sigma: np.ndarray  # σ_c = √(σ_el² + σ_pu²·μ/40)
    calibration: np.ndarray  # m_c
    sampling_a: np.ndarray  # stochastic term a_c
    exists: np.ndarray  # bool
    eta_edges: np.ndarray  # (N, n_eta + 1), detector η
    phi_edges: np.ndarray  # (N, n_phi + 1), detector φ

    @property
    def eta_centres(self) -> np.ndarray:
        return (0.5 * (self.eta_edges[:, 1:] + self.eta_edges[:, :-1])).astype(F32)

    @property
    def phi_centres(self) -> np.ndarray:
        c = 0.5 * (self.phi_edges[:, 1:] + self.phi_edges[:, :-1])
        return ((c + np.pi) % (2 * np.pi) - np.pi).astype(F32)


def _sum64(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    return np.where(mask, x, 0).reshape(n, -1).sum(axis=1, dtype=np.float64)


def vertex_corrected_eta(eta_calo: np.ndarray, z_v: np.ndarray) -> np.ndarray:
    """Cluster η seen from the primary vertex, inverting the L2 impact formula of §0.

    Barrel: sinh η = sinh η_L − z_v/r_L2; endcap: sinh η = sinh η_L·(|z_L2| − z_v·sgn η)/|z_L2|.
    """
    sh = np.sinh(np.asarray(eta_calo, dtype=np.float64))
    z_v = np.asarray(z_v, dtype=np.float64)
    barrel = sh - z_v / geo.R_LAYER[geo.L2]
    zl = geo.Z_LAYER[geo.L2]
    endcap = sh * (zl - z_v * np.sign(eta_calo)) / zl
    out = np.where(geo.is_barrel(geo.L2, np.abs(eta_calo)), barrel, endcap)
    return np.arcsinh(out).astype(F32)


def cluster_columns(layers: list[WindowLayer], masks: list[np.ndarray], z_v: np.ndarray) -> dict[str, object]:
    """Jagged cell branches, cluster branches and cluster-level sums of the latents.

    ``masks[i]`` (N, n_eta, n_phi) selects the cluster cells of ``layers[i]``. Returns the §7
    names ``ncells``, ``cell_*``, ``cl_E``, ``cl_E0``–``cl_E3``, ``cl_E_TileGap3``,
    ``cl_etaCalo``, ``cl_phiCalo``, ``cl_eta``, ``cl_phi`` plus the cluster sums
    ``_lam_acc`` (Σλ over the cluster's L1–L3 cells), ``gen_Enoise``, ``gen_Epu``.
    """
    if len(layers) != len(masks):
        raise ValueError(f"cluster_columns: {len(layers)} layers but {len(masks)} masks")
    n = z_v.shape[0]
    layer_sum = np.zeros((N_CLUSTER_LAYERS, n), np.float64)
    lam_acc = np.zeros(n, np.float64)
    e_noise = np.zeros(n, np.float64)
    e_pu = np.zeros(n, np.float64)
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("cand", "E", "eta", "phi", "x", "y", "z", "layer", "sigma")
    }
    l2_w = np.zeros(n, np.float64)
    l2_eta = np.zeros(n, np.float64)
    l2_sin = np.zeros(n, np.float64)
    l2_cos = np.zeros(n, np.float64)
    for lay, m in zip(layers, masks):
        m = m & lay.exists
        layer_sum[lay.layer] += _sum64(lay.energy, m)
        e_noise += _sum64(lay.noise_el, m)
        e_pu += _sum64(lay.noise_pu, m)
        if lay.layer in (geo.L1, geo.L2, geo.L3):
            lam_acc += _sum64(lay.expected, m)
        c, ie, ip = np.nonzero(m)
        eta = lay.eta_centres[c, ie]
        phi = lay.phi_centres[c, ip]
        x, y, z = geo.cell_xyz(lay.geometry_layer, eta, phi)
        e = lay.energy[c, ie, ip]
        for key, val in (("cand", c), ("E", e), ("eta", eta), ("phi", phi), ("x", x), ("y", y), ("z", z)):
            parts[key].append(val)
        parts["layer"].append(np.full(c.size, lay.layer, np.int32))
        parts["sigma"].append(lay.sigma[c, ie, ip])
        if lay.layer == geo.L2:
            w = np.maximum(e, 0).astype(np.float64)
            l2_w += np.bincount(c, weights=w, minlength=n)
            l2_eta += np.bincount(c, weights=w * eta, minlength=n)
            l2_sin += np.bincount(c, weights=w * np.sin(phi), minlength=n)
            l2_cos += np.bincount(c, weights=w * np.cos(phi), minlength=n)
    flat = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(flat["cand"], kind="stable")  # (candidate, layer, η, φ)
    counts = np.bincount(flat["cand"], minlength=n)
    e_flat = flat["E"][order].astype(F32)
    layer_flat = flat["layer"][order]
    denom = layer_sum[layer_flat, flat["cand"][order]]
    # E / E_layer-sum; 0 where the layer sum vanishes (a noise-only layer can sum to ~0, §5)
    over = np.where(denom != 0, e_flat / np.where(denom != 0, denom, 1.0), 0.0).astype(F32)
    jag = {
        "cell_E": e_flat,
        "cell_E_over_layer": over,
        "cell_eta": flat["eta"][order].astype(F32),
        "cell_phi": flat["phi"][order].astype(F32),
        "cell_x": flat["x"][order].astype(F32),
        "cell_y": flat["y"][order].astype(F32),
        "cell_z": flat["z"][order].astype(F32),
        "cell_layer": layer_flat.astype(np.int32),
        "cell_sigma": flat["sigma"][order].astype(F32),
    }
    cl_e64 = np.bincount(flat["cand"], weights=flat["E"].astype(np.float64), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        eta_calo = np.where(l2_w > 0, l2_eta / l2_w, np.nan)
        phi_calo = np.where(l2_w > 0, np.arctan2(l2_sin, l2_cos), np.nan)
    out: dict[str, object] = {"ncells": counts.astype(np.int32)}
    out.update({k: ak.unflatten(v, counts) for k, v in jag.items()})
    out["cl_E"] = cl_e64.astype(F32)
    for i in range(4):
        out[f"cl_E{i}"] = layer_sum[i].astype(F32)
    out["cl_E_TileGap3"] = layer_sum[TILEGAP3].astype(F32)
    out["cl_etaCalo"] = eta_calo.astype(F32)
    out["cl_phiCalo"] = phi_calo.astype(F32)
    out["cl_eta"] = vertex_corrected_eta(np.nan_to_num(eta_calo), z_v)
    out["cl_eta"] = np.where(np.isfinite(eta_calo), out["cl_eta"], np.nan).astype(F32)
    out["cl_phi"] = phi_calo.astype(F32)
    out["_lam_acc"] = lam_acc
    out["gen_Enoise"] = e_noise.astype(F32)
    out["gen_Epu"] = e_pu.astype(F32)
    return out
