"""hardware: see DESIGN.md (imports only snn).

``chips`` (chip specifications), ``mapping`` (core partitioning, placement and
traffic), ``loihi`` (Loihi fixed point, bit-exact with Lava), ``lava_backend``
(Lava export and runs), ``errors``.
"""

from hardware import chips, errors, lava_backend, loihi, mapping  # noqa: F401
