"""The clinician's outcome figures: a Wilson interval with its denominator, or only the count
under the minimum volume."""

from __future__ import annotations

import re

from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from prolo.db import engine_for, transaction
from prolo.registry import charts
from prolo.registry.models import Site
from prolo.synth import params, run


def test_figures_give_interval_and_denominator_or_the_count(fresh_database_url: str) -> None:
    run.to_database(fresh_database_url, 150, 7, params.load(None))
    with transaction(engine_for(fresh_database_url)) as session:
        site_ids = tuple(sorted(session.scalars(select(Site.id))))
    figures = charts.outcome_figures(fresh_database_url, site_ids)
    pain = figures[0]
    assert pain["definition"] == "pain50@6m" and pain["followed"] >= 20
    match = re.fullmatch(
        r"(\d+)% \(95% CI (\d+)%–(\d+)%\), (\d+) of (\d+) followed courses", pain["text"]
    )
    assert match, pain["text"]
    successes, followed = int(match.group(4)), int(match.group(5))
    low, high = proportion_confint(successes, followed, method="wilson")
    assert (int(match.group(2)), int(match.group(3))) == (round(low * 100), round(high * 100))
    none = charts.outcome_figures(fresh_database_url, (10_000,))
    assert none[0]["text"] == "fewer than 20 followed courses (0 so far)"
