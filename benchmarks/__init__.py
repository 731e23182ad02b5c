"""Performance comparisons against peers, measured side by side (see README.md)."""
