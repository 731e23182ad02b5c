"""Non-dominated rows: the per-core count rows a per-step "busiest core" time model needs, and no others.

Shared by ``hardware.mapping`` (traffic of a mapping) and ``energy.sanafe``
(traffic of a SANA-FE placement); both sit above ``snn`` and below nothing else.
"""

from __future__ import annotations

import numpy as np


def frontier(rows: np.ndarray) -> np.ndarray:
    """The distinct rows of ``rows`` (cores x counts, non-negative) that no other row dominates.

    Row ``a`` dominates ``b`` when ``a >= b`` in every column: for any
    non-negative per-count latencies the busiest core is then on the frontier,
    so the per-step maximum of any such weighted sum is the maximum over it.
    Cost: a sort plus ``k^2`` comparisons of the ``k`` distinct rows.
    """
    rows = np.unique(np.asarray(rows), axis=0)
    if len(rows) <= 1:
        return rows
    ge = (rows[:, None, :] >= rows[None, :, :]).all(axis=2)
    np.fill_diagonal(ge, False)  # rows are distinct: a >= b elsewhere means a dominates b
    return rows[~ge.any(axis=0)]
