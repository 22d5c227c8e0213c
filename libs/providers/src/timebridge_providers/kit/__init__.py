"""The connector kit: what every provider package builds on and every service depends on.

- :mod:`.profile`: a provider described as data (granularity, units, writable fields, limits).
- :mod:`.ports`: the capability protocols (entries, observe, directory, report, accounting).
- :mod:`.registry`: the installed providers, looked up by name; the only way to reach one.
- :mod:`.clients`: one HTTP pool per base URL and one request budget per credential.
"""
