"""In-memory fakes of the capability ports, one module per port, for fast handler tests."""
