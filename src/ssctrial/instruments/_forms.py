"""Data-capture forms that are not scored instruments: baseline characteristics and organ events.

``DEMOG`` records the baseline characteristics of Table 1 (captured once, at screening or
baseline); ``ORGAN`` records, at each follow-up visit, whether a new SSc organ complication
occurred since the previous visit: exactly the four events of ACR-CRISS step 1 (Khanna 2016,
Table 4), which force the CRISS probability to 0. Both live in the registry so that capture,
validation, the simulator and the derivation share one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ssctrial.instruments._registry import Instrument, Item, register

__all__ = ["AUTOANTIBODIES", "BACKGROUND_THERAPIES", "ETHNICITIES", "read_form"]

ETHNICITIES = ("Caucasian", "African-American", "North-East Asian", "South-East Asian", "Other/mixed")
AUTOANTIBODIES = ("anti_topoisomerase_I", "anticentromere", "anti_rna_polymerase_III", "other_or_negative")
BACKGROUND_THERAPIES = (
    "glucocorticoid_low_dose",
    "mycophenolate",
    "methotrexate",
    "cyclophosphamide",
    "calcium_channel_blocker",
    "other_immunosuppressant",
)


def read_form(data: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame | dict[str, Any]:
    """Return a form's items unchanged (forms are recorded, not scored)."""
    if isinstance(data, pd.DataFrame):
        return data.copy()
    return dict(data)


DEMOG = register(
    Instrument(
        code="DEMOG",
        name="Baseline characteristics",
        items=(
            Item("weight_kg", "Body weight", "number", min=25, max=250, unit="kg"),
            Item(
                "ethnicity",
                "Ethnic group (GLI-2012 groups)",
                "categorical",
                allowed=ETHNICITIES,
                description="Used by the GLI-2012 spirometry equations when the study uses them.",
            ),
            Item(
                "subtype",
                "SSc subtype (LeRoy 1988)",
                "categorical",
                allowed=("diffuse", "limited"),
                description="Diffuse or limited cutaneous systemic sclerosis.",
            ),
            Item(
                "disease_duration_months",
                "Disease duration since the first non-Raynaud manifestation",
                "number",
                min=0,
                max=600,
                unit="months",
            ),
            Item(
                "autoantibody",
                "Dominant SSc-specific autoantibody",
                "categorical",
                allowed=AUTOANTIBODIES,
            ),
            *(
                Item(f"bg_{name}", f"Background therapy: {name.replace('_', ' ')}", "boolean", required=False)
                for name in BACKGROUND_THERAPIES
            ),
        ),
        scorer=read_form,
        outputs={},
        score_range="not scored",
        missing_rule="Not scored; each characteristic is reported as missing where not captured.",
        citation="LeRoy EC et al. J Rheumatol 1988;15:202-5 (subsets); Quanjer PH et al. Eur Respir J "
        "2012;40:1324-43 (ethnic groups of the GLI-2012 equations).",
    )
)

ORGAN = register(
    Instrument(
        code="ORGAN",
        name="New SSc organ involvement since the previous visit (ACR-CRISS step 1 events)",
        items=(
            Item("renal_crisis", "New scleroderma renal crisis", "boolean"),
            Item(
                "fvc_decline",
                "FVC decline >= 15 % (relative), confirmed within a month, ILD on HRCT, FVC < 80 % predicted",
                "boolean",
            ),
            Item("lv_failure", "New left-ventricular failure (LVEF <= 45 %) requiring treatment", "boolean"),
            Item("pah", "New pulmonary arterial hypertension on right-heart catheterisation", "boolean"),
        ),
        scorer=read_form,
        outputs={},
        score_range="not scored",
        missing_rule="Not scored. ACR-CRISS step 1 is positive at a visit when any event is recorded at or "
        "before it; a visit without the form contributes no event.",
        citation="Khanna D et al. Arthritis Rheumatol 2016;68:299-311 (Table 4, step 1).",
    )
)
