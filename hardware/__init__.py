"""hardware: see DESIGN.md (imports only snn)."""
