"""ssctrial.power: Monte Carlo power and sample size for the next trial (see docs/power.md).

Scenarios (:class:`PowerScenario`, :func:`create_scenario_grid`) are simulated from a compact
model of the primary endpoint calibrated to the study file (:func:`build_endpoint_model`) and
analysed in batches of thousands of trials (:func:`run_power`, in-process or on Dask); the slow
path (:func:`run_power_slow`) runs the full simulator, store, derivation and statistics.
"""

from ssctrial.power._model import EndpointModel, build_endpoint_model, draw_trials
from ssctrial.power._run import PowerProgress, PowerResult, run_power
from ssctrial.power._scenario import PowerScenario, create_scenario_grid
from ssctrial.power._slow import run_power_slow
from ssctrial.power._summary import compute_closed_form_power, find_sample_size, plot_power_curve

__all__ = [
    "EndpointModel",
    "PowerProgress",
    "PowerResult",
    "PowerScenario",
    "build_endpoint_model",
    "compute_closed_form_power",
    "create_scenario_grid",
    "draw_trials",
    "find_sample_size",
    "plot_power_curve",
    "run_power",
    "run_power_slow",
]
