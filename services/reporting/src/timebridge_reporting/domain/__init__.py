"""Pure decisions: no I/O, no clock, no randomness; everything arrives as arguments.

Report computations (utilization, billing, reconciliation) land here.
"""
