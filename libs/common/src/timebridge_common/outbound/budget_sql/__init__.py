"""Migrations of the shared provider request budgets (``providers/shared_budget.py``)."""
