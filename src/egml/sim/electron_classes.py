"""Truth record of T2 electron candidates: MCTruthClassifier codes, the IFF (current enum)
classification and the six DNN classes (PHYSICS.md §3, §7) [S:12, S:R1].

The class label is derived from the truth record *and* the reconstructed charge, exactly as
the ATLAS tools do it; nothing in the generator's reconstruction is keyed by it (§0 rule 3).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

IFF_ENUM_VERSION = "TruthClassification Truth::Type (current, AnalysisBase >= 21.2.143)"


class IFF(IntEnum):
    """athena TruthClassification ``Truth::Type``, current enum (§7) [S:12]."""

    Unknown = 0
    KnownUnknown = 1
    IsoElectron = 2  # = PromptElectron
    ChargeFlipIsoElectron = 3
    PromptMuon = 4
    PromptPhotonConversion = 5
    ElectronFromMuon = 6
    TauDecay = 7
    BHadronDecay = 8
    CHadronDecay = 9
    LightFlavorDecay = 10
    ChargeFlipMuon = 11


class TruthType(IntEnum):
    """MCTruthClassifier ``ParticleType`` codes used by T2 [S:12]."""

    IsoElectron = 2
    NonIsoElectron = 3
    BkgElectron = 4
    IsoPhoton = 14
    BkgPhoton = 16
    Hadron = 17


class TruthOrigin(IntEnum):
    """MCTruthClassifier ``ParticleOrigin`` codes used by T2 [S:12]."""

    NonDefined = 0
    PhotonConv = 5
    DalitzDec = 6
    WBoson = 12
    ZBoson = 13
    CharmedMeson = 25
    BottomMeson = 26
    LightMeson = 23
    PromptPhot = 37


class Class6(IntEnum):
    """``p_class6``; the order of the DNN outputs DFCommonElectronsDNN_pel…_plh [S:16]."""

    PE = 0
    CF = 1
    PC = 2
    HF = 3
    LFEg = 4
    LFH = 5


CLASS_NAMES = tuple(c.name for c in Class6)
PDG_ELECTRON, PDG_PHOTON = 11, 22


def iff_type(
    truth_type: np.ndarray,
    truth_origin: np.ndarray,
    first_eg_mother_pdg: np.ndarray,
    first_eg_mother_type: np.ndarray,
    q_reco: np.ndarray,
) -> np.ndarray:
    """IFF ``Truth::Type`` (current enum) of each candidate, from its truth record and q_reco.

    Prompt electrons, and conversion electrons whose first e/γ mother is a prompt electron
    (tridents), are IsoElectron when firstEgMotherPdgId·q_reco < 0 and ChargeFlipIsoElectron
    otherwise (pdg 11 = e⁻). Conversions of prompt photons are PromptPhotonConversion; electrons
    from b/c hadrons are B/CHadronDecay; everything else from light hadrons (Dalitz, conversions
    of meson photons, hadrons) is LightFlavorDecay.
    """
    t = np.asarray(truth_type)
    o = np.asarray(truth_origin)
    mt = np.asarray(first_eg_mother_type)
    charge_product = np.asarray(first_eg_mother_pdg) * np.asarray(q_reco)
    prompt_e = (t == TruthType.IsoElectron) | (
        (t == TruthType.BkgElectron) & (o == TruthOrigin.PhotonConv) & (mt == TruthType.IsoElectron)
    )
    prompt_conv = (t == TruthType.BkgElectron) & (o == TruthOrigin.PhotonConv) & (mt == TruthType.IsoPhoton)
    light = (t == TruthType.Hadron) | (
        (t == TruthType.BkgElectron)
        & ~prompt_e
        & ~prompt_conv
        & ((o == TruthOrigin.PhotonConv) | (o == TruthOrigin.DalitzDec))
    )
    return np.select(
        [
            prompt_e & (charge_product < 0),
            prompt_e,
            prompt_conv,
            (t == TruthType.NonIsoElectron) & (o == TruthOrigin.BottomMeson),
            (t == TruthType.NonIsoElectron) & (o == TruthOrigin.CharmedMeson),
            light,
        ],
        [
            IFF.IsoElectron,
            IFF.ChargeFlipIsoElectron,
            IFF.PromptPhotonConversion,
            IFF.BHadronDecay,
            IFF.CHadronDecay,
            IFF.LightFlavorDecay,
        ],
        default=IFF.Unknown,
    ).astype(np.int32)


def class6(
    iff: np.ndarray, truth_type: np.ndarray, first_eg_mother_pdg: np.ndarray, q_reco: np.ndarray
) -> np.ndarray:
    """``p_class6`` from the IFF type (current enum), truthType and firstEgMotherPdgId·q_reco (§3, §7).

    0 PE: IFF 2 with pdg·q < 0; 1 CF: IFF 3, or IFF 2 with pdg·q > 0; 2 PC: IFF 5; 3 HF: IFF 8/9;
    4 LFEg: IFF 10 with truthType ∈ {4, 16}; 5 LFH: IFF 10 with truthType 17; −1 otherwise.
    """
    iff = np.asarray(iff)
    t = np.asarray(truth_type)
    qp = np.asarray(first_eg_mother_pdg) * np.asarray(q_reco)
    return np.select(
        [
            (iff == IFF.IsoElectron) & (qp < 0),
            (iff == IFF.ChargeFlipIsoElectron) | ((iff == IFF.IsoElectron) & (qp > 0)),
            iff == IFF.PromptPhotonConversion,
            (iff == IFF.BHadronDecay) | (iff == IFF.CHadronDecay),
            (iff == IFF.LightFlavorDecay) & ((t == TruthType.BkgElectron) | (t == TruthType.BkgPhoton)),
            (iff == IFF.LightFlavorDecay) & (t == TruthType.Hadron),
        ],
        [Class6.PE, Class6.CF, Class6.PC, Class6.HF, Class6.LFEg, Class6.LFH],
        default=-1,
    ).astype(np.int32)
