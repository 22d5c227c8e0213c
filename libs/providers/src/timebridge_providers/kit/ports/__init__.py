"""Capability ports: what a service may ask of a provider, one module per capability.

Each is optional per provider. A provider that lacks a capability does not offer it (its
:class:`~timebridge_providers.kit.registry.Provider` field is ``None``); there are no no-op
methods. Every port has an in-memory fake in :mod:`timebridge_providers.kit.fakes` so handlers
get fast unit tests.
"""
