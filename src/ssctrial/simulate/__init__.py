"""Simulate a BASICS-like trial: patients, item-level outcomes, adverse events and blood RNA-seq.

The generative model is pure (:func:`simulate_trial_data`: a study design and a seed in, tidy
DataFrames out); its parameters live in the study file's ``simulation:`` section
(:func:`load_simulation_parameters`). See ``docs/simulation.md``.
"""

from __future__ import annotations

from ssctrial.simulate._generate import SimulatedTrial, simulate_trial_data
from ssctrial.simulate._params import SimulationParameters, load_simulation_parameters
from ssctrial.simulate._rnaseq import simulate_rnaseq, write_rnaseq
from ssctrial.simulate._trial import SimulationResult, rnaseq_samples, simulate_trial

__all__ = [
    "SimulatedTrial",
    "SimulationParameters",
    "SimulationResult",
    "load_simulation_parameters",
    "rnaseq_samples",
    "simulate_rnaseq",
    "simulate_trial",
    "simulate_trial_data",
    "write_rnaseq",
]
