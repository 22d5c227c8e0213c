"""Timebridge contracts service: contracts, scopes, budgets, milestones, audit trail."""
