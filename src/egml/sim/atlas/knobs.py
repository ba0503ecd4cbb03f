"""Tuning knobs of the ATLAS calorimeter simulation (PHYSICS.md §8) and the §0 rule 6 shifts."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from egml.sim.atlas.geometry import L1, L2, L3, PS
from egml.sim.base import GenConfig


def _per_layer(value: float) -> dict[int, float]:
    return {PS: value, L1: value, L2: value, L3: value}


@dataclass(frozen=True)
class CaloKnobs:
    """§8 knobs (defaults) plus the robustness shift factors of §0 rule 6.

    k_C / k_T: core / tail radius scales per EM layer (R ← R·R_M,eff·k); kappa_pre: PS/L1 widening
    of showers started upstream; k_T_long / k_alpha_long: longitudinal knobs; w_PS, a_PS:
    presampler EM-scale weight and sampling term; noise_scale, moliere_scale, mat_scale: shifts.
    """

    # k_C,1 = 0.75 (spec default 1.0), tuned on the §8 strip widths: at 1.0 ws3 (weta1) is 0.69 against
    # 0.61 (0.56–0.66); 0.75 gives ≈0.64 with wstot ≈1.6 and fside ≈0.13, all three inside their
    # target IQRs (κ_pre moves all three together, so it cannot do this alone).
    k_C: dict[int, float] = field(default_factory=lambda: {**_per_layer(1.0), L1: 0.75})
    k_T: dict[int, float] = field(default_factory=lambda: _per_layer(1.6))
    kappa_pre: float = 1.0
    k_T_long: float = 1.0
    k_alpha_long: float = 1.0
    l2_subslices: int = 1  # 1 or 2 equal-energy sub-slices of L2, each with its own τ (§1.4)
    w_PS: float = 10.0
    a_PS: float = 0.3
    noise_scale: float = 1.0  # shift: electronic and pileup noise ×
    moliere_scale: float = 1.0  # shift: R_M,eff ×
    mat_scale: float = 1.0  # shift: X_conv and X_up ×
    mu_offset: float = 0.0  # shift: added to μ by the caller (kept here for the record)

    def __post_init__(self) -> None:
        for name in ("k_C", "k_T"):
            d = getattr(self, name)
            if set(d) != {PS, L1, L2, L3} or any(v <= 0 for v in d.values()):
                raise ValueError(
                    f"CaloKnobs.{name}: expected positive values for layers PS, L1, L2, L3, got {d}"
                )
        if self.l2_subslices not in (1, 2):
            raise ValueError(f"CaloKnobs.l2_subslices: expected 1 or 2, got {self.l2_subslices}")
        for name in ("w_PS", "noise_scale", "moliere_scale", "mat_scale", "k_T_long", "k_alpha_long"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CaloKnobs.{name}: expected a positive value, got {getattr(self, name)}")

    @classmethod
    def from_gen_config(cls, config: GenConfig) -> CaloKnobs:
        """Knobs from a GenConfig: its ``shift`` and the entries of ``knobs`` named like the fields.

        Per-layer knobs accept a scalar (all EM layers) or a mapping {layer: value};
        unknown keys are ignored here (other generators read them).
        """
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {k: v for k, v in config.knobs.items() if k in names}
        for name in ("k_C", "k_T"):
            if name in kw and not isinstance(kw[name], dict):
                kw[name] = _per_layer(float(kw[name]))
            elif name in kw:
                kw[name] = {**getattr(cls(), name), **{int(k): float(v) for k, v in kw[name].items()}}
        s = config.shift
        knobs = cls(**kw)
        return replace(
            knobs,
            noise_scale=knobs.noise_scale * s.noise,
            moliere_scale=knobs.moliere_scale * s.moliere,
            mat_scale=knobs.mat_scale * s.material,
            mu_offset=knobs.mu_offset + s.mu_offset,
        )
