"""hardware: see DESIGN.md (imports only snn)."""

from hardware import chips, mapping  # noqa: E402,F401  chip specifications; core partitioning, placement and traffic
