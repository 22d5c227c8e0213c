"""Provider sandboxes: in-memory HTTP look-alikes of the providers, for tests and ``make dev``.

Each sandbox is written from the provider's documentation, independently of Timebridge's client
for it, so that a test of the client against the sandbox can catch the client's mistakes.
"""
