"""Decisions (seed name: Thunderbit): route each window to experts, blend, apply risk, record the trace."""
