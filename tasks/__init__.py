"""tasks: see DESIGN.md (imports only snn)."""
