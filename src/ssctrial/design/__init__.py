"""Study definition: a YAML study file validated into a :class:`StudyDesign`.

``load_study("basics")`` loads the packaged BASICS design (``studies/basics.yaml``); any other
path loads a user's study file. A wrong file is refused with the YAML path of every wrong field.
"""

from __future__ import annotations

from ssctrial.design._load import list_studies, load_study, study_file_hash, validate_study
from ssctrial.design._models import (
    ANALYSIS_METHODS,
    Arm,
    EligibilityCriterion,
    Endpoint,
    LungEquation,
    RandomizationSpec,
    Site,
    StratificationFactor,
    StudyDesign,
    Visit,
)

__all__ = [
    "ANALYSIS_METHODS",
    "Arm",
    "EligibilityCriterion",
    "Endpoint",
    "LungEquation",
    "RandomizationSpec",
    "Site",
    "StratificationFactor",
    "StudyDesign",
    "Visit",
    "list_studies",
    "load_study",
    "study_file_hash",
    "validate_study",
]
