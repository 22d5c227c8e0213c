"""What every webhook receiver shares: its replay window and reading a request's raw parts."""
