"""SQL migrations of the webhook replay window (applied by the services that receive webhooks)."""
