"""CONSORT 2010 flow diagram, drawn from counts derived from the data (never typed by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ssctrial.exceptions import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ConsortArm", "ConsortFlow", "plot_consort"]


@dataclass(frozen=True)
class ConsortArm:
    """One arm's column of the CONSORT diagram."""

    label: str
    allocated: int
    received: int
    discontinued: Mapping[str, int] = field(default_factory=dict)
    analysed: int = 0
    excluded_from_analysis: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsortFlow:
    """The counts of a CONSORT 2010 flow diagram.

    Checked on construction: the excluded and randomised add up to the assessed, the arms'
    allocations add up to the randomised, and no arm analyses more subjects than it allocated.
    """

    assessed: int
    excluded: Mapping[str, int]
    randomised: int
    arms: tuple[ConsortArm, ...]

    def __post_init__(self) -> None:
        n_excluded = sum(self.excluded.values())
        if n_excluded + self.randomised != self.assessed:
            msg = (
                f"CONSORT counts do not add up: {self.assessed} assessed but {n_excluded} excluded "
                f"+ {self.randomised} randomised = {n_excluded + self.randomised}"
            )
            raise InputError(msg)
        allocated = sum(a.allocated for a in self.arms)
        if allocated != self.randomised:
            msg = f"CONSORT counts do not add up: {self.randomised} randomised but {allocated} allocated"
            raise InputError(msg)
        for arm in self.arms:
            if arm.analysed > arm.allocated or arm.received > arm.allocated:
                msg = f"CONSORT arm {arm.label!r}: analysed or received exceeds the {arm.allocated} allocated"
                raise InputError(msg)


def _reasons(reasons: Mapping[str, int]) -> str:
    return "".join(f"\n  • {reason} (n={n})" for reason, n in reasons.items() if n)


def plot_consort(flow: ConsortFlow) -> Figure:
    """Draw the CONSORT 2010 flow diagram (enrolment, allocation, follow-up, analysis).

    Returns
    -------
    matplotlib.figure.Figure
        The diagram; arms are laid out left to right in the order given.
    """
    import matplotlib.pyplot as plt

    n_arms = len(flow.arms)
    width = max(8.0, 3.2 * n_arms)
    fig = plt.figure(figsize=(width, 8.4))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0.55, 8.95)
    ax.axis("off")
    box = {"boxstyle": "square,pad=0.4", "facecolor": "white", "edgecolor": "#333333", "linewidth": 0.9}
    stage = {"boxstyle": "round,pad=0.3", "facecolor": "#dbe9f4", "edgecolor": "#0b6e99"}
    text_kw = {"fontsize": 8, "va": "center", "ha": "center", "bbox": box, "linespacing": 1.3}
    arrow = {"arrowstyle": "-|>", "color": "#333333", "lw": 0.9}
    mid = width / 2

    ax.text(0.25, 8.3, "Enrolment", rotation=90, fontsize=9, va="center", ha="center", bbox=stage)
    ax.text(mid, 8.4, f"Assessed for eligibility (n={flow.assessed})", **text_kw)
    n_excl = sum(flow.excluded.values())
    ax.text(
        mid + width * 0.22,
        7.45,
        f"Excluded (n={n_excl}){_reasons(flow.excluded)}",
        **{**text_kw, "ha": "left"},
    )
    ax.annotate("", xy=(mid + width * 0.22, 7.45), xytext=(mid, 7.45), arrowprops={**arrow})
    ax.text(mid, 6.5, f"Randomised (n={flow.randomised})", **text_kw)
    ax.annotate("", xy=(mid, 6.75), xytext=(mid, 8.15), arrowprops=arrow)

    for y, name in ((5.3, "Allocation"), (3.5, "Follow-up"), (1.4, "Analysis")):
        ax.text(0.25, y, name, rotation=90, fontsize=9, va="center", ha="center", bbox=stage)
    columns = [0.6 + (width - 0.6) * (i + 0.5) / n_arms for i in range(n_arms)]
    for x, arm in zip(columns, flow.arms, strict=True):
        ax.annotate("", xy=(x, 5.75), xytext=(mid, 6.25), arrowprops=arrow)
        not_received = arm.allocated - arm.received
        ax.text(
            x,
            5.3,
            f"Allocated to {arm.label} (n={arm.allocated})\n"
            f"Received allocated intervention (n={arm.received})\n"
            f"Did not receive it (n={not_received})",
            **text_kw,
        )
        n_disc = sum(arm.discontinued.values())
        ax.text(x, 3.5, f"Discontinued (n={n_disc}){_reasons(arm.discontinued)}", **text_kw)
        n_ex = sum(arm.excluded_from_analysis.values())
        ax.text(
            x,
            1.4,
            f"Analysed (n={arm.analysed})\n"
            f"Excluded from analysis (n={n_ex}){_reasons(arm.excluded_from_analysis)}",
            **text_kw,
        )
        ax.annotate("", xy=(x, 4.0), xytext=(x, 4.85), arrowprops=arrow)
        ax.annotate("", xy=(x, 1.95), xytext=(x, 3.0), arrowprops=arrow)
    return fig
