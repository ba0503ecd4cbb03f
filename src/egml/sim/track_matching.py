"""Track–cluster matching and the electron/photon ambiguity type (PHYSICS.md §3).

One function each, applied identically to every candidate whatever its class (§0 rule 3):
the matched track is chosen from geometry and momenta, and ``ambiguityType`` from the matched
track, the reconstructed conversion vertex and the cluster energy, following athena's
``EGammaAmbiguityTool::ambiguityResolve`` [S:12].
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from egml.sim.atlas.topo import TRACK_MATCH_DETA, TRACK_MATCH_DPHI

F32 = np.float32

# EGammaAmbiguityTool defaults [S:12]
AMBIGUITY_MIN_SI_HITS = 4  # fewer Si hits: photon, not an electron
AMBIGUITY_MIN_PT = 2.0  # GeV: softer tracks are ambiguousTrackLowPt
AMBIGUITY_MAX_EOVERP = 10.0  # E/p above: ambiguousTrackHighEoverP

CONV_DOUBLE_SI = 3  # xAOD conversion type doubleSi (§1.3)


class AmbiguityType(IntEnum):
    """``xAOD::AmbiguityTool::AmbiguityType`` [S:12]; electrons carry 0–5."""

    electron = 0
    ambiguousTrackEoverPBetterThanVertexEoverP = 1
    ambiguousTrackLowPt = 2
    ambiguousTrackHighEoverP = 3
    ambiguousTrackNoPixel = 4
    ambiguousVertexEoverPBetterThanTrackEoverP = 5
    photon = 6
    unknown = 7


def match_track(
    deta: np.ndarray, dphi: np.ndarray, p_last: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The track matched to each cluster: the hardest valid track with |Δη| < 0.05 and |Δφ| < 0.1.

    ``deta``/``dphi`` (N, T) are the track positions extrapolated to the calorimeter minus the
    cluster barycentre; ``p_last`` (N, T) is the momentum at the last measurement, the one the
    extrapolation uses (so an e± that lost most of its energy to a hard brem can lose the
    match to a harder conversion leg, §3 CF). Returns (index (N,), has_match (N,), number of
    tracks in the window (N,)).
    """
    if deta.shape != dphi.shape or deta.shape != p_last.shape or deta.shape != valid.shape:
        raise ValueError(
            f"match_track: inputs must share shape (N, T), got {deta.shape}, {dphi.shape}, {p_last.shape}, {valid.shape}"
        )
    inside = valid & (np.abs(deta) < TRACK_MATCH_DETA) & (np.abs(dphi) < TRACK_MATCH_DPHI)
    idx = np.argmax(np.where(inside, p_last, -np.inf), axis=1)
    return idx, inside.any(axis=1), inside.sum(axis=1).astype(np.int32)


def ambiguity_type(
    n_si: np.ndarray,
    n_pix: np.ndarray,
    n_innermost: np.ndarray,
    track_pt: np.ndarray,
    track_p: np.ndarray,
    e_clus: np.ndarray,
    has_vertex: np.ndarray,
    vertex_type: np.ndarray,
    track_in_vertex: np.ndarray,
    vertex_p: np.ndarray,
) -> np.ndarray:
    """``ambiguityType`` of the matched track and the matched conversion vertex (if any).

    Photon (6) without enough Si hits, or for a no-pixel track belonging to a Si+Si vertex;
    ambiguous for p_T < 2 GeV (2), E/p > 10 (3) or no pixel hit (4); electron (0) without a
    vertex or when the track has an innermost hit and the vertex is not Si+Si or only one of
    its tracks has an innermost hit (see the comment below); otherwise 1 or 5 by whether the track or the vertex
    momentum is closer to E_clus. "Innermost hit" is read as numberOfInnermostPixelHits > 0
    (the IBL is always expected here), and the Rconv − RfirstHit < 40 mm clause is taken as
    passed (true conversions have their first hit outside R_conv).
    """
    double_si = has_vertex & (vertex_type == CONV_DOUBLE_SI)
    share = (n_si >= AMBIGUITY_MIN_SI_HITS) & double_si & track_in_vertex
    track_innermost = n_innermost > 0
    eop = np.asarray(e_clus, F32) / np.maximum(np.asarray(track_p, F32), F32(1e-6))
    # athena: electron if no vertex, or innermost hit & (not Si+Si | one innermost vertex track |
    # Rconv − RfirstHit < 40 mm); the last clause always holds for true conversions (first hits
    # lie outside R_conv) and for fakes built from the candidate's own track.
    electron = ~has_vertex | track_innermost
    track_better = np.abs(track_p - e_clus) < np.abs(vertex_p - e_clus)
    return np.select(
        [
            (n_si < AMBIGUITY_MIN_SI_HITS) | (double_si & (n_pix == 0) & share),
            track_pt < AMBIGUITY_MIN_PT,
            eop > AMBIGUITY_MAX_EOVERP,
            n_pix == 0,
            electron,
            track_better,
        ],
        [
            AmbiguityType.photon,
            AmbiguityType.ambiguousTrackLowPt,
            AmbiguityType.ambiguousTrackHighEoverP,
            AmbiguityType.ambiguousTrackNoPixel,
            AmbiguityType.electron,
            AmbiguityType.ambiguousTrackEoverPBetterThanVertexEoverP,
        ],
        default=AmbiguityType.ambiguousVertexEoverPBetterThanTrackEoverP,
    ).astype(np.int32)
