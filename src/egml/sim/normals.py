"""``torch.randn(n, generator=torch.Generator().manual_seed(seed))`` (float32, CPU) in numba.

The cell noise (``atlas.response.standard_normals``) is drawn from torch's CPU generator seeded per
window. torch fills the tensor with MT19937 uniforms one call at a time (≈ 3.6 ns per value, 90 %
of ``torch.randn``) and then applies its AVX2 Box–Muller (``NormalFill16``: ``avx_mathfun``'s
``log256_ps``/``sincos256_ps``). This module reproduces that algorithm bit for bit, about 3× faster:

- MT19937 seeded with ``seed & 0xffffffff`` (``at::mt19937``), tempered outputs u = (y & 2²⁴−1)·2⁻²⁴;
- per 16 values: u1 = 1 − u[0:8], u2 = u[8:16]; r = √(−2 log u1), θ = 2π u2; out = r cos θ, r sin θ;
  log and sincos are the Cephes float32 polynomials of ``avx_mathfun.h`` with the multiply–adds
  that torch's compiled AVX2 kernel fuses (FMA) fused here too (``_fma``);
- a size that is not a multiple of 16 redraws its last 16 values from the continuing stream.

It is the AVX2 path of torch 2.x (the build this project pins); ``tests/sim/test_normals.py``
compares it with ``torch.randn`` on this machine.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

F32 = np.float32
_N, _M = 624, 397  # MT19937 state size and shift
_U24 = F32(1.0 / (1 << 24))
_ONE, _ZERO, _HALF = F32(1.0), F32(0.0), F32(0.5)
_MINUS_TWO, _TWO_PI = F32(-2.0), F32(2.0 * np.pi)
_SQRTHF = F32(0.707106781186547524)
_P0, _P1, _P2, _P3, _P4, _P5, _P6, _P7, _P8 = (
    F32(c)
    for c in (
        7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
        -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
    )
)  # fmt: skip
_LOG_Q1, _LOG_Q2 = F32(-2.12194440e-4), F32(0.693359375)
_FOPI = F32(1.27323954473516)
_DP1, _DP2, _DP3 = F32(-0.78515625), F32(-2.4187564849853515625e-4), F32(-3.77489497744594108e-8)
_SIN_P0, _SIN_P1, _SIN_P2 = F32(-1.9515295891e-4), F32(8.3321608736e-3), F32(-1.6666654611e-1)
_COS_P0, _COS_P1, _COS_P2 = (
    F32(2.443315711809948e-005),
    F32(-1.388731625493765e-003),
    F32(4.166664568298827e-002),
)


@intrinsic
def _fma(typingctx, a, b, c):
    """float32 a·b + c with one rounding (llvm.fma: a vfmadd on FMA hardware, exact emulation otherwise)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32, f32, f32]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _f2i(typingctx, x):
    """Bits of a float32 as int32."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _i2f(typingctx, x):
    """float32 with the bits of an int32."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@numba.njit(cache=True)
def _seed_state(seed: int) -> np.ndarray:
    state = np.empty(_N, np.uint32)
    state[0] = np.uint32(seed & 0xFFFFFFFF)
    for j in range(1, _N):
        prev = np.uint64(state[j - 1])
        x = np.uint64(1812433253) * (prev ^ (prev >> np.uint64(30))) + np.uint64(j)
        state[j] = np.uint32(x & np.uint64(0xFFFFFFFF))
    return state


@numba.njit(inline="always", cache=True)
def _twist(u: np.uint32, v: np.uint32) -> np.uint32:
    y = (u & np.uint32(0x80000000)) | (v & np.uint32(0x7FFFFFFF))
    return (y >> np.uint32(1)) ^ (np.uint32(0x9908B0DF) if v & np.uint32(1) else np.uint32(0))


@numba.njit(cache=True)
def _next_state(s: np.ndarray) -> None:
    for k in range(_N - _M):
        s[k] = s[k + _M] ^ _twist(s[k], s[k + 1])
    for k in range(_N - _M, _N - 1):
        s[k] = s[k + _M - _N] ^ _twist(s[k], s[k + 1])
    s[_N - 1] = s[_M - 1] ^ _twist(s[_N - 1], s[0])


@numba.njit(cache=True, error_model="numpy")
def _temper(state: np.ndarray, out: np.ndarray) -> None:
    # tempered outputs of state[:len(out)] as uniforms (y & 2²⁴−1)·2⁻²⁴ (a vectorised loop)
    for t in range(len(out)):
        y = state[t]
        y ^= y >> np.uint32(11)
        y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
        y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
        y ^= y >> np.uint32(18)
        out[t] = F32(np.int32(y & np.uint32(0xFFFFFF))) * _U24


@numba.njit(cache=True, error_model="numpy")
def _uniforms(state: np.ndarray, pos: int, out: np.ndarray) -> int:
    """Fill ``out`` with the next uniforms of the stream (state position ``pos``); new position."""
    i, n = 0, len(out)
    while i < n:
        if pos == _N:
            _next_state(state)
            pos = 0
        m = min(n - i, _N - pos)
        _temper(state[pos : pos + m], out[i : i + m])
        i += m
        pos += m
    return pos


@numba.njit(inline="always", cache=True)
def _log_cephes(x: float) -> float:
    """``log256_ps`` for a positive normal float32 x."""
    bits = _f2i(x)
    e = F32((bits >> 23) - 0x7F) + _ONE
    x = _i2f((bits & np.int32(~0x7F800000)) | np.int32(0x3F000000))  # mantissa in [0.5, 1)
    small = x < _SQRTHF
    tmp = x if small else _ZERO
    x = x - _ONE
    e = e - (_ONE if small else _ZERO)
    x = x + tmp
    z = x * x
    y = _fma(_fma(_fma(_fma(_P0, x, _P1), x, _P2), x, _P3), x, _P4)
    y = _fma(_fma(_fma(_fma(y, x, _P5), x, _P6), x, _P7), x, _P8)
    y = y * x
    y = _fma(y, z, e * _LOG_Q1)
    y = _fma(-z, _HALF, y)
    x = x + y
    return _fma(e, _LOG_Q2, x)


@numba.njit(inline="always", cache=True)
def _sincos_cephes(x: float) -> tuple[float, float]:
    """``sincos256_ps`` for a float32 x ≥ 0: (sin x, cos x)."""
    j = np.int32(x * _FOPI)
    j = (j + np.int32(1)) & np.int32(~1)
    y = F32(j)
    swap_sin = (j & np.int32(4)) << 29
    poly = (j & np.int32(2)) == 0
    x = _fma(y, _DP1, x)
    x = _fma(y, _DP2, x)
    x = _fma(y, _DP3, x)
    sign_cos = (~(j - np.int32(2)) & np.int32(4)) << 29
    z = x * x
    yc = _fma(_COS_P0, z, _COS_P1)
    yc = _fma(yc, z, _COS_P2)
    yc = yc * z
    yc = _fma(yc, z, -(z * _HALF))
    yc = yc + _ONE
    ys = _fma(_SIN_P0, z, _SIN_P1)
    ys = _fma(ys, z, _SIN_P2)
    ys = ys * z
    ys = _fma(ys, x, x)
    s = ys if poly else yc
    c = yc if poly else ys
    return _i2f(_f2i(s) ^ swap_sin), _i2f(_f2i(c) ^ sign_cos)


@numba.njit(cache=True, error_model="numpy")
def _box_muller_pairs(u1: np.ndarray, u2: np.ndarray, c: np.ndarray, s: np.ndarray) -> None:
    # one flat loop over distinct arrays without branches: LLVM vectorises it (8 lanes)
    for k in range(len(u1)):
        radius = np.sqrt(_MINUS_TWO * _log_cephes(_ONE - u1[k]))
        sk, ck = _sincos_cephes(_TWO_PI * u2[k])
        c[k] = radius * ck + _ZERO
        s[k] = radius * sk + _ZERO


@numba.njit(cache=True, error_model="numpy")
def _box_muller(d: np.ndarray, start: int, stop: int) -> None:
    """``NormalFill16`` on each 16 values of d[start:stop] (mean 0, std 1: fma(n, 1, 0) = n + 0):
    u1 = 1 − d[g:g+8], u2 = d[g+8:g+16] → d[g:g+8] = r cos θ, d[g+8:g+16] = r sin θ."""
    chunk = 512  # pairs per pass (8 KiB of scratch)
    u1, u2 = np.empty(chunk, F32), np.empty(chunk, F32)
    c, s = np.empty(chunk, F32), np.empty(chunk, F32)
    g0 = start
    while g0 + 16 <= stop:
        groups = min((stop - g0) // 16, chunk // 8)
        for q in range(groups):
            for j in range(8):
                u1[8 * q + j] = d[g0 + 16 * q + j]
                u2[8 * q + j] = d[g0 + 16 * q + 8 + j]
        m = 8 * groups
        _box_muller_pairs(u1[:m], u2[:m], c[:m], s[:m])
        for q in range(groups):
            for j in range(8):
                d[g0 + 16 * q + j] = c[8 * q + j]
                d[g0 + 16 * q + 8 + j] = s[8 * q + j]
        g0 += 16 * groups


@numba.njit(cache=True, error_model="numpy")
def torch_randn(seed: int, n: int) -> np.ndarray:
    """= torch.randn(n, generator=torch.Generator().manual_seed(seed)).numpy() for n ≥ 16."""
    out = np.empty(n, F32)
    state = _seed_state(seed)
    pos = _uniforms(state, _N, out)
    _box_muller(out, 0, n)
    if n % 16:
        _uniforms(state, pos, out[n - 16 :])
        _box_muller(out, n - 16, n)
    return out
