"""Print the §8 medians (IQR) of T1 shower shapes: prompt unconverted γ and loose-passing fakes, |η|<0.6, 40–60 GeV."""
import numpy as np, time
from egml.sim.photon import SinglePhotonGenerator as G
from egml.sim.base import GenConfig
from egml.sim.rng import block_rng
g=G(GenConfig(knobs={"pt_min":40.0,"pt_max":60.0}))
cols=[g.generate_block(block_rng(777,1,b)) for b in range(3)]
c={k:np.concatenate([x[k] for x in cols]) for k in cols[0] if isinstance(cols[0][k],np.ndarray)}
cen=np.abs(c["y_eta_cl_s2"])<0.6
sig=(c["y_isTruthMatchedPhoton"]==1)&cen&(c["y_truth_convRadius"]<=0 if "y_truth_convRadius" in c else True)&(c["y_convType"]==0)
bkg=(c["y_isTruthMatchedPhoton"]==0)&cen&(c["y_IsLoose"]==1)
print("n sig",sig.sum(),"n bkg",bkg.sum())
for k in ["y_Reta","y_Rphi","y_weta2","y_weta1","y_wtots1","y_fracs1","y_deltae","y_Eratio","y_f1","y_Rhad1"]:
    s=c[k][sig]; b=c[k][bkg]
    q=np.nanpercentile(s,[25,50,75]); qb=np.nanpercentile(b,[25,50,75]) if len(b) else [np.nan]*3
    print(f"{k:10s} sig {q[1]:.4g} ({q[0]:.4g}-{q[2]:.4g})  bkg {qb[1]:.4g} ({qb[0]:.4g}-{qb[2]:.4g})")
print("IsTight eff sig", c["y_IsTight"][sig].mean(), "bkg", c["y_IsTight"][bkg].mean())
