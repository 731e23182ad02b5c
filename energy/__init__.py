"""energy: how much energy and time a spiking run would take on neuromorphic hardware,
against the dense (GPU) way of doing the same job.

``energy`` imports only :mod:`snn` (and numpy/scipy/matplotlib; optionally
nvidia-ml-py and sanafe).  It meets the other packages through plain data: a
run's :class:`snn.OpCounts`, a mapping's traffic dict, a task's baseline record.

>>> import energy
>>> energy.profiles.names()                                  # doctest: +SKIP
>>> est = energy.estimate(run.counts, "loihi1_davies2018")   # doctest: +SKIP
>>> est.energy_j, est.time_s, est.edp, est.breakdown         # doctest: +SKIP
"""

from energy import baseline, jobs, profiles, sizesweep
from energy.compare import Comparison, compare, compare_placements, default_profiles
from energy.errors import BaselineError, EnergyError, ProfileError, UnpricedOperationError
from energy.estimate import EnergyEstimate, estimate, operation_counts
from energy.report import report
from energy.sweep import SweepError, sweep

__all__ = [
    "BaselineError",
    "Comparison",
    "EnergyError",
    "EnergyEstimate",
    "ProfileError",
    "UnpricedOperationError",
    "baseline",
    "jobs",
    "sizesweep",
    "compare",
    "compare_placements",
    "default_profiles",
    "estimate",
    "operation_counts",
    "profiles",
    "report",
    "SweepError",
    "sweep",
]
