"""A task end to end on Intel Lava itself: the spike wave-front shortest path, quantised and run by Lava."""

import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph

from hardware import lava_backend, loihi
from tasks import shortest_path


def _lava_available() -> bool:
    try:
        lava_backend.lava_python()
    except Exception:
        return False
    return True


@pytest.mark.lava
@pytest.mark.skipif(not _lava_available(), reason="no .venv-lava (make lava-env builds it)")
def test_shortest_path_on_lava_equals_dijkstra_and_our_engine():
    p = shortest_path.random_problem(n=30, max_length=5, seed=0)
    on_lava = shortest_path.solve(p, engine="lava", simulate=loihi.fixed_point_simulator())
    assert on_lava.run.engine.startswith("lava")
    expected = csgraph.dijkstra(p.graph, indices=p.source)
    assert on_lava.success
    np.testing.assert_array_equal(on_lava.x, expected)
    assert np.isfinite(expected).sum() > 10
    ours = shortest_path.solve(p, engine="event", simulate=loihi.fixed_point_simulator())
    assert ours.run.counts.synaptic_events == on_lava.run.counts.synaptic_events
    for name, spikes in ours.run.spikes.items():
        np.testing.assert_array_equal(on_lava.run.spikes[name], spikes)
