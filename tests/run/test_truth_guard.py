"""Truth fields and generator latents can never be network inputs (PHYSICS.md §0 rule 1)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from egml.cli import CONFIG_DIR
from egml.errors import EgmlError
from egml.run.data_source import check_inputs_are_not_truth
from egml.tasks.registry import TASKS


def _data_cfg(task: str):
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"task={task}"])
    return OmegaConf.to_container(cfg.data, resolve=True)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_default_inputs_read_no_truth_or_latent_branch(task: str) -> None:
    data = _data_cfg(task)
    check_inputs_are_not_truth(data["branch_map"], list(data["inputs"]))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_truth_or_latent_field_is_refused_as_input(task: str) -> None:
    data = _data_cfg(task)
    truthy = [
        f
        for f, e in data["branch_map"].items()
        if any(m in str(e) for m in ("gen_", "truth", "Truth", "isTruthMatched", "class6", "A_mass"))
    ]
    for field in truthy:
        with pytest.raises(EgmlError, match="truth/generator-latent"):
            check_inputs_are_not_truth(data["branch_map"], [*data["inputs"], field])


@pytest.mark.parametrize(
    "branch",
    [
        "gen_z",
        "gen_sigmaO1",
        "truth_E",
        "y_truth_pt",
        "p_TruthType",
        "y_isTruthMatchedPhoton",
        "p_class6",
        "p_iffTruth",
        "label",
        "mcid",
        "A_mass",
        "mHgen",
        "weight_phys",
        "p_firstEgMotherPdgId",
    ],
)
def test_latent_branches_are_refused_even_through_an_expression(branch: str) -> None:
    branch_map = {"x": {"expr": f"2 * {branch} + 1"}, "ok": "y_pt"}
    check_inputs_are_not_truth(branch_map, ["ok"])
    with pytest.raises(EgmlError, match=branch):
        check_inputs_are_not_truth(branch_map, ["ok", "x"])
