"""CONSORT flow: counts are checked for consistency and every count appears in the diagram."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from ssctrial.exceptions import InputError
from ssctrial.report._consort import ConsortArm, ConsortFlow, plot_consort


def _flow(**changes):
    values = dict(
        assessed=57,
        excluded={"Did not meet inclusion criteria": 6, "Declined to participate": 3},
        randomised=48,
        arms=(
            ConsortArm("Baricitinib 4 mg", 16, 16, {"Adverse event": 1}, 15, {"No post-baseline mRSS": 1}),
            ConsortArm("Baricitinib 2 mg", 16, 16, {"Withdrew consent": 2}, 16, {}),
            ConsortArm("Control", 16, 16, {}, 16, {}),
        ),
    )
    values.update(changes)
    return ConsortFlow(**values)


def test_diagram_shows_every_count_and_reason():
    fig = plot_consort(_flow())
    texts = "\n".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
    for expected in [
        "Assessed for eligibility (n=57)",
        "Excluded (n=9)",
        "Did not meet inclusion criteria (n=6)",
        "Randomised (n=48)",
        "Allocated to Baricitinib 4 mg (n=16)",
        "Discontinued (n=2)",
        "Withdrew consent (n=2)",
        "Analysed (n=15)",
        "No post-baseline mRSS (n=1)",
    ]:
        assert expected in texts


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"assessed": 50}, r"50 assessed but 9 excluded \+ 48 randomised = 57"),
        ({"randomised": 47, "assessed": 56}, r"47 randomised but 48 allocated"),
        (
            {"arms": (ConsortArm("A", 24, 24, {}, 25), ConsortArm("B", 24, 24, {}, 24))},
            r"arm 'A': analysed or received exceeds the 24 allocated",
        ),
    ],
    ids=["assessed", "allocated", "analysed"],
)
def test_inconsistent_counts_are_refused(changes, match):
    with pytest.raises(InputError, match=match):
        _flow(**changes)
