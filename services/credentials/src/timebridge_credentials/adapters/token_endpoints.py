"""Each provider's token endpoint, opened with Timebridge's app for that provider.

Which URL and protocol a provider's token endpoint speaks is the provider package's knowledge
(its :class:`~timebridge_providers.kit.credentials.OAuthDescription`, found through the
registry); the app's client id and secret are this service's settings.
"""

import httpx
from timebridge_providers.kit.credentials import OAuthApp, oauth_of
from timebridge_providers.kit.registry import Registry, UnknownProviderError

from timebridge_common.outbound.oauth import TokenEndpoint
from timebridge_common.refusals import UpstreamError
from timebridge_credentials.config import OAuthAppConfig


class RegistryTokenEndpoints:
    def __init__(
        self, registry: Registry, apps: dict[str, OAuthAppConfig], http: httpx.AsyncClient
    ) -> None:
        self._registry = registry
        self._apps = {name.lower(): app for name, app in apps.items()}
        self._http = http
        self._opened: dict[str, TokenEndpoint] = {}

    def endpoint(self, provider: str) -> TokenEndpoint:
        if (opened := self._opened.get(provider)) is not None:
            return opened
        try:
            found = self._registry.get(provider)
        except UnknownProviderError as exc:
            raise UpstreamError(str(exc)) from exc
        description = oauth_of(found)
        if description is None:
            raise UpstreamError(f"{found.profile.title} has no OAuth token endpoint")
        config = self._apps.get(provider)
        if config is None:
            raise UpstreamError(f"no OAuth app is configured for {found.profile.title}")
        app = OAuthApp(
            config.client_id, config.client_secret, config.token_url, config.redirect_uri
        )
        opened = self._opened[provider] = description.open(provider, app, self._http)
        return opened
