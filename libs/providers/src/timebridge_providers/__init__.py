"""Timebridge's providers: the connector kit and one package per provider.

Services reach a provider only through :mod:`timebridge_providers.kit` (capability ports, the
profile, the registry) and never name one; each provider package (``core``, ``everhour``, ...)
declares its profile and the capabilities its API offers, and :mod:`.installed` lists them.
"""
