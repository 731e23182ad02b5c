"""hardware: see DESIGN.md (imports only snn).

``chips`` (chip specifications), ``mapping`` (core partitioning, placement and
traffic), ``loihi`` (Loihi fixed point, bit-exact with Lava), ``loihi_qp`` and
``loihi_qubo`` (fixed-point QP and QUBO neurons, with our own Lava processes in
``_lava_procs``), ``lava_backend`` (Lava export and runs), ``lava_session`` (a
persistent Lava process), ``errors``.
"""

from hardware import chips, errors, lava_backend, lava_session, loihi, loihi_qp, loihi_qubo, mapping  # noqa: F401
