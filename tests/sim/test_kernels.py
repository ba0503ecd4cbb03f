"""Each numba kernel of ``egml.sim.kernels`` against a NumPy/torch reference on small random input."""

from __future__ import annotations

import numpy as np
import pytest

from egml.sim import kernels, shower
from egml.sim.photon_windows import batched_interp

F32 = np.float32


def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + F32(np.pi)) % F32(2 * np.pi) - F32(np.pi)


def _relative(edges: np.ndarray, cand: np.ndarray, x0: np.ndarray, periodic: bool) -> np.ndarray:
    e = edges[cand]
    if not periodic:
        return e - x0[:, None]
    return _wrap(e[:, :1] - x0[:, None]) + (e - e[:, :1])


def _objects(rng: np.random.Generator, n: int, m: int, nu: int, nv: int) -> dict[str, np.ndarray]:
    """Windows of n candidates (η non-periodic, φ straddling ±π for some) and m objects near them."""
    u_edges = (rng.uniform(-1, 1, (n, 1)) + 0.025 * np.arange(nu)).astype(F32)
    v0 = rng.choice([0.0, np.pi - 0.05, -np.pi - 0.02], n)[:, None]  # continuous edges beyond ±π
    v_edges = (v0 + 0.0245 * np.arange(nv)).astype(F32)
    cand = np.sort(rng.integers(0, n, m)).astype(np.int64)
    u0 = (u_edges[cand, nu // 2] + rng.normal(0, 0.03, m)).astype(F32)
    v0o = _wrap((v_edges[cand, nv // 2] + rng.normal(0, 0.03, m)).astype(F32))
    return {
        "u_edges": u_edges,
        "v_edges": v_edges,
        "cand": cand,
        "u0": u0,
        "v0": v0o,
        "E": rng.uniform(0.1, 50, m).astype(F32),
        "r_c": rng.uniform(0.002, 0.02, m).astype(F32),
        "r_t": rng.uniform(0.01, 0.06, m).astype(F32),
        "p": rng.uniform(0, 1, m).astype(F32),
        "sigma": rng.uniform(0.005, 0.06, m).astype(F32),
    }


def test_atan32_matches_arctan_to_float32_precision() -> None:
    x = np.concatenate(
        [np.random.default_rng(0).standard_normal(20000) * 5, [0.0, -0.0, 0.41421, 2.41421, 1e-30, 1e8, -1e8]]
    ).astype(F32)
    ref = np.arctan(x.astype(np.float64))
    got = kernels.atan32_array(x)
    assert got.dtype == F32
    assert np.max(np.abs(got - ref)) < 2.5e-7
    assert np.all(np.sign(got) == np.sign(ref))


def test_wrap_matches_numpy_float32_mod() -> None:
    x = (np.random.default_rng(1).standard_normal(5000) * 10).astype(F32)
    got = np.array([kernels._wrap(v) for v in x], F32)
    np.testing.assert_array_equal(got, _wrap(x))


@pytest.mark.parametrize("periodic_v", [True, False])
def test_exact_corner_sum_matches_corner_grid(periodic_v: bool) -> None:
    rng = np.random.default_rng(2)
    o = _objects(rng, 20, 60, 9, 13)
    u_edges, v_edges, cand = o["u_edges"], o["v_edges"], o["cand"]
    acc = np.zeros((20, 9, 13), F32)
    kernels.exact_corner_sum(
        cand, o["u0"], o["v0"], o["E"], o["r_c"], o["r_t"], o["p"], u_edges, v_edges, False, periodic_v, acc
    )
    x = _relative(u_edges, cand, o["u0"], False)
    y = _relative(v_edges, cand, o["v0"], periodic_v)
    ref = np.zeros((20, 9, 13))
    for r, w in ((o["r_c"], o["E"] * o["p"]), (o["r_t"], o["E"] * (1 - o["p"]))):  # torch-atan reference
        g = shower.corner_integral(x[:, :, None], y[:, None, :], r[:, None, None]).astype(np.float64)
        np.add.at(ref, cand, w[:, None, None] * g)
    np.testing.assert_allclose(acc, ref, rtol=0, atol=2e-6 * o["E"].max())
    # the cell integrals (corner differences) hold the energy inside the window
    cells = shower.corner_differences(acc)
    assert np.all(
        cells.sum(axis=(1, 2)) <= np.bincount(cand, weights=o["E"], minlength=20) * (1 + 1e-5) + 1e-5
    )


def test_gauss_outer_scatter_and_finish_cells_match_numpy() -> None:
    rng = np.random.default_rng(3)
    n, nu, nv = 15, 8, 12
    o = _objects(rng, n, 50, nu, nv)
    cand = o["cand"]
    x = _relative(o["u_edges"], cand, o["u0"], False)
    y = _relative(o["v_edges"], cand, o["v0"], True)
    acc_g = np.zeros((n, nu - 1, nv - 1), F32)
    kernels.outer_scatter(cand, *shower.gauss_axis_factors(x, y, o["sigma"], o["E"]), acc_g)
    ref_g = np.zeros((n, nu - 1, nv - 1))
    np.add.at(ref_g, cand, shower.gauss_cell_grid(x, y, o["sigma"], o["E"]).astype(np.float64))
    np.testing.assert_allclose(acc_g, ref_g, rtol=1e-5, atol=1e-6)

    corners = rng.normal(0, 1, (n, nu, nv)).astype(F32)
    ref = shower.corner_differences(corners) + acc_g
    np.testing.assert_allclose(kernels.finish_cells(corners, acc_g, False), ref, rtol=0, atol=1e-6)
    swapped = np.ascontiguousarray(corners.transpose(0, 2, 1))
    np.testing.assert_allclose(kernels.finish_cells(swapped, acc_g, True), ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("split", [True, False])
def test_cell_response_matches_numpy(split: bool) -> None:
    rng = np.random.default_rng(4)
    n, ne, nph = 30, 5, 4
    lam = rng.normal(0.5, 1.0, (n, ne, nph)).astype(F32)
    noise = rng.standard_normal((3 if split else 2, n, ne, nph)).astype(F32)
    a, s_el, s_pu = (rng.uniform(0.01, 0.3, (n, ne)).astype(F32) for _ in range(3))
    cal_map = rng.uniform(0.98, 1.02, (40, 16)).astype(F32)
    ieta0 = rng.integers(-2, 38, n).astype(np.int64)
    iphi0 = rng.integers(0, 16, n).astype(np.int64)
    ex = rng.random((n, ne, nph)) < 0.8
    out = [np.empty((n, ne, nph), F32) for _ in range(5)]
    kernels.cell_response(lam, noise, a, s_el, s_pu, cal_map, ieta0, iphi0, ex, split, *out)
    energy, sigma, nel, npu, m = out
    ie = np.clip(ieta0[:, None] + np.arange(ne), 0, 39)
    ip = (iphi0[:, None] + np.arange(nph)) % 16
    m_ref = cal_map[ie[:, :, None], ip[:, None, :]]
    np.testing.assert_array_equal(m, m_ref)
    e_ref = (np.sqrt(np.maximum(lam, 0)) * a[:, :, None] * noise[0] + lam) * np.where(ex, m_ref, F32(0))
    sig_ref = np.where(ex, np.sqrt(s_el**2 + s_pu**2)[:, :, None], F32(0))
    if split:
        np.testing.assert_array_equal(nel, np.where(ex, s_el[:, :, None] * noise[1], F32(0)))
        np.testing.assert_array_equal(npu, np.where(ex, s_pu[:, :, None] * noise[2], F32(0)))
        e_ref = e_ref + nel + npu
    else:
        e_ref = e_ref + noise[1] * sig_ref
    np.testing.assert_allclose(energy, e_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(sigma, sig_ref)
    assert np.all(energy[~ex] == 0) and not np.any(np.signbit(energy[~ex]))


def test_scatter_cells_groups_by_candidate() -> None:
    rng = np.random.default_rng(5)
    n, ne, nph = 12, 4, 3
    keep = rng.random((n, ne, nph)) < 0.5
    e, sig = (rng.normal(size=(n, ne, nph)).astype(F32) for _ in range(2))
    ieta0 = rng.integers(0, 10, n).astype(np.int64)
    phi_c = rng.uniform(-3, 3, (n, nph)).astype(F32)
    eta_t, r_t, z_t = (rng.normal(size=20).astype(F32) for _ in range(3))
    before = rng.integers(0, 3, n)  # cells of earlier layers already written for each candidate
    counts = before + keep.sum(axis=(1, 2))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    out = np.full((7, offsets[-1]), np.nan, F32)
    layer = np.full(offsets[-1], -1, np.int32)
    pos = offsets[:-1] + before
    kernels.scatter_cells(
        keep, e, sig, ieta0, phi_c, np.cos(phi_c), np.sin(phi_c), eta_t, r_t, z_t, 2, pos, out, layer
    )
    np.testing.assert_array_equal(pos, offsets[1:])
    for c in range(n):
        i, j = np.nonzero(keep[c])
        sl = slice(offsets[c] + before[c], offsets[c + 1])
        g = ieta0[c] + i
        ref = [
            e[c, i, j],
            eta_t[g],
            phi_c[c, j],
            r_t[g] * np.cos(phi_c[c, j]),
            r_t[g] * np.sin(phi_c[c, j]),
            z_t[g],
        ]
        for row, values in enumerate([*ref, sig[c, i, j]]):
            np.testing.assert_array_equal(out[row, sl], values)
        assert np.all(layer[sl] == 2)


def test_merge_window_takes_old_cells_where_they_overlap() -> None:
    rng = np.random.default_rng(6)
    n = 10
    old, new = rng.normal(size=(n, 7, 7)).astype(F32), rng.normal(size=(n, 7, 11)).astype(F32)
    di, dj = rng.integers(-3, 4, n).astype(np.int64), rng.integers(-6, 4, n).astype(np.int64)
    got = kernels.merge_window(old, new, di, dj)
    for c in range(n):
        for i in range(7):
            for j in range(11):
                io, jo = i + di[c], j + dj[c]
                inside = 0 <= io < 7 and 0 <= jo < 7
                assert got[c, i, j] == (old[c, io, jo] if inside else new[c, i, j])


def test_resample_strips_matches_batched_interp() -> None:
    rng = np.random.default_rng(7)
    r, n, m = 9, 20, 14
    widths = rng.choice([0.025 / 8, 0.025 / 6, 0.025 / 4], (r, n))
    edges = (rng.uniform(-2, 2, (r, 1)) + np.concatenate([np.zeros((r, 1)), np.cumsum(widths, 1)], 1)).astype(
        F32
    )
    e = rng.normal(1, 1, (r, n, 2)).astype(F32)
    lo = edges[:, 0] + rng.uniform(-0.005, 0.01, r).astype(F32)  # some start before the window
    nominal = lo[:, None] + F32(0.025 / 8) * np.arange(m + 1, dtype=F32)
    got = kernels.resample_strips(e, edges, nominal)
    cum = np.concatenate([np.zeros((r, 1, 2), F32), np.cumsum(e, axis=1)], axis=1)
    for c in range(2):
        np.testing.assert_allclose(
            got[:, :, c], np.diff(batched_interp(nominal, edges, cum[:, :, c]), axis=1), atol=2e-6
        )


@pytest.mark.parametrize("nv", [3, 8, 9, 13, 61])
def test_exact_corner_sum_padding_is_exact(nv: int) -> None:
    """The padded inner loop gives the corners of the unpadded float32 formula, bit for bit, and
    running the transposed problem gives the transposed corner sums (the orientation choice)."""
    rng = np.random.default_rng(8)
    n, nu = 6, 5
    o = _objects(rng, n, 25, nu, nv)
    args = (o["cand"], o["u0"], o["v0"], o["E"], o["r_c"], o["r_t"], o["p"])
    acc = np.zeros((n, nu, nv), F32)
    kernels.exact_corner_sum(*args, o["u_edges"], o["v_edges"], False, True, acc)
    x = _relative(o["u_edges"], o["cand"], o["u0"], False)
    y = _relative(o["v_edges"], o["cand"], o["v0"], True)
    ref = np.zeros((n, nu, nv), F32)
    two_pi = F32(1 / (2 * np.pi))
    for m, c in enumerate(o["cand"]):  # the kernel's float32 expression, one corner at a time
        w = (o["E"][m] * o["p"][m] * two_pi, o["E"][m] * (F32(1) - o["p"][m]) * two_pi)
        for i in range(nu):
            for j in range(nv):
                g = []
                for r, wk in zip((o["r_c"][m], o["r_t"][m]), w, strict=True):
                    a = F32(1) / np.sqrt(x[m, i] * x[m, i] + r * r)
                    b = F32(1) / np.sqrt(y[m, j] * y[m, j] + r * r)
                    t1 = np.float32(kernels.atan32_array(np.array([y[m, j] * a], F32))[0])
                    t2 = np.float32(kernels.atan32_array(np.array([x[m, i] * b], F32))[0])
                    g.append(x[m, i] * a * wk * t1 + y[m, j] * b * wk * t2)
                ref[c, i, j] += g[0] + g[1]
    np.testing.assert_array_equal(acc, ref)
    acc_t = np.zeros((n, nv, nu), F32)
    kernels.exact_corner_sum(
        o["cand"], o["v0"], o["u0"], *args[3:], o["v_edges"], o["u_edges"], True, False, acc_t
    )
    np.testing.assert_array_equal(acc_t.transpose(0, 2, 1), acc)


def test_near_window_matches_numpy() -> None:
    rng = np.random.default_rng(9)
    n, m = 20, 400
    o = _objects(rng, n, m, 8, 12)
    cand = o["cand"]
    eta = (o["u0"] + rng.normal(0, 0.2, m)).astype(F32)
    phi = _wrap((o["v0"] + rng.normal(0, 0.2, m)).astype(F32))
    energy = rng.normal(1, 1, m).astype(F32)
    for margin in (rng.uniform(0, 0.1, m).astype(F32), np.array([0.05], F32)):
        got = kernels.near_window(cand, eta, phi, energy, margin, o["u_edges"], o["v_edges"])
        lo, hi = o["u_edges"][cand, 0], o["u_edges"][cand, -1]
        p0, p1 = o["v_edges"][cand, 0], o["v_edges"][cand, -1]
        pc, ph = F32(0.5) * (p0 + p1), F32(0.5) * (p1 - p0)
        mg = margin if len(margin) > 1 else margin[0]
        ref = (energy > 0) & (eta > lo - mg) & (eta < hi + mg) & (np.abs(_wrap(phi - pc)) < ph + mg)
        np.testing.assert_array_equal(got, ref)
        assert 0 < got.sum() < m


def test_gauss_kernels_match_gauss_axis_factors() -> None:
    """gauss_erf_args + torch erf + gauss_scatter = outer_scatter of shower.gauss_axis_factors, bit for bit."""
    import torch

    rng = np.random.default_rng(10)
    n, nu, nv = 15, 8, 12
    o = _objects(rng, n, 50, nu, nv)
    cand, sigma, E = o["cand"], o["sigma"], o["E"]
    x = _relative(o["u_edges"], cand, o["u0"], False)
    y = _relative(o["v_edges"], cand, o["v0"], True)
    ref = np.zeros((n, nu - 1, nv - 1), F32)
    kernels.outer_scatter(cand, *shower.gauss_axis_factors(x, y, sigma, E), ref)
    s = (np.maximum(sigma, F32(1e-6)) * np.sqrt(2)).astype(np.float64)
    ax, ay = kernels.gauss_erf_args(cand, o["u0"], o["v0"], s, o["u_edges"], o["v_edges"])
    cx, cy = (torch.special.erf(torch.from_numpy(a)).numpy() for a in (ax, ay))
    got = np.zeros_like(ref)
    kernels.gauss_scatter(cand, cx, cy, 0.25 * E.astype(np.float64), got)
    np.testing.assert_array_equal(got, ref)


def test_kept_cells_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    n, ne, nph = 30, 6, 5
    rows, cols = rng.random((n, ne)) < 0.8, rng.random((n, nph)) < 0.8
    exists = rng.random((n, ne, nph)) < 0.9
    e, sigma = rng.normal(0, 1, (n, ne, nph)).astype(F32), rng.uniform(0.1, 0.6, (n, ne, nph)).astype(F32)
    counts = np.full(n, 3, np.int64)
    keep = kernels.kept_cells(rows, cols, exists, e, sigma, 2.0, counts)
    ref = rows[:, :, None] & cols[:, None, :] & exists & (np.abs(e) > 2.0 * sigma)
    np.testing.assert_array_equal(keep, ref)
    np.testing.assert_array_equal(counts, 3 + ref.sum(axis=(1, 2)))
