"""energy: see DESIGN.md (imports only snn)."""
