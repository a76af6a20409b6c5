"""A small season (a few days, a few stores), both policies, through the real services."""

from __future__ import annotations

import pytest

from fulfillment.simulation.run import run_policy
from fulfillment.simulation.scenario import build_scenario


@pytest.mark.django_db
@pytest.mark.parametrize("policy", ["siloed", "omni"])
def test_small_season_runs(policy):
    sc = build_scenario(seed=11, days=6, stores=4, skus=6)
    log = run_policy(sc, policy)
    from fulfillment.simulation.kpis import compute, ledger_consistency
    print(compute(sc, log), ledger_consistency(sc, log))
