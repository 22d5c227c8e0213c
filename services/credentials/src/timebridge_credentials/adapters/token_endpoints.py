"""Each provider's token endpoint, opened with Timebridge's app for that provider.

Which URL and protocol a provider's token endpoint speaks is the provider package's knowledge
(its :class:`~timebridge_providers.kit.credentials.OAuthDescription`, found through the
registry); the app's client id and secret are this service's settings.
"""

from collections.abc import Mapping

import httpx
from timebridge_providers.kit.credentials import OAuthApp, oauth_of
from timebridge_providers.kit.oauth import Consented
from timebridge_providers.kit.registry import Registry, UnknownProviderError

from timebridge_common.outbound.oauth import TokenEndpoint
from timebridge_common.refusals import InvalidError, UpstreamError
from timebridge_credentials.config import OAuthAppConfig


class RegistryTokenEndpoints:
    def __init__(
        self, registry: Registry, apps: dict[str, OAuthAppConfig], http: httpx.AsyncClient
    ) -> None:
        self._registry = registry
        self._apps = {name.lower(): app for name, app in apps.items()}
        self._http = http
        self._opened: dict[tuple[str, str], TokenEndpoint] = {}

    def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> tuple[str, str]:
        """The consent URL of Timebridge's app at ``provider`` carrying ``state`` (built from the
        provider's OAuth description: its consent page, scopes and parameters), and the redirect
        URI the code will be issued for."""
        found = self._registry.get(provider)
        description = oauth_of(found)
        config = self._app(provider, found.profile.title)
        page = config.authorize_url or (description and description.authorize_url)
        if description is None or not page:
            raise InvalidError(f"{found.profile.title} cannot be consented to from here")
        redirect = config.redirect_uri or redirect_uri
        if not redirect:
            raise InvalidError(
                f"no redirect URI is configured for {found.profile.title}: set"
                f" {_setting(provider, 'REDIRECT_URI')}"
            )
        url = description.consent_url(config.client_id, redirect, state, page=page)
        return url, redirect

    async def complete(self, provider: str, consented: Consented) -> tuple[str, dict[str, str]]:
        description = oauth_of(self._registry.get(provider))
        if description is None or description.complete is None:
            return consented.base_url, dict(consented.extra)
        return await description.complete(consented, self._http)

    def endpoint(self, provider: str, given: Mapping[str, str] | None = None) -> TokenEndpoint:
        try:
            found = self._registry.get(provider)
        except UnknownProviderError as exc:
            raise UpstreamError(str(exc)) from exc
        description = oauth_of(found)
        if description is None:
            raise UpstreamError(f"{found.profile.title} has no OAuth token endpoint")
        config = self._app(provider, found.profile.title)
        token_url = config.token_url or description.token_url
        if description.token_url_of is not None:  # the account's data centre's
            token_url = description.token_url_of(given or {}, token_url)
        if (opened := self._opened.get((provider, token_url))) is not None:
            return opened
        app = OAuthApp(config.client_id, config.client_secret, token_url, config.redirect_uri)
        opened = description.open(provider, app, self._http)
        self._opened[(provider, token_url)] = opened
        return opened

    def _app(self, provider: str, title: str) -> OAuthAppConfig:
        """Timebridge's app at the provider, or why there is none: a configuration error,
        the same on every attempt (not a provider being unavailable)."""
        config = self._apps.get(provider)
        if config is None:
            raise InvalidError(
                f"no OAuth app is configured for {title} ({provider}) at the credential owner:"
                f" set {_setting(provider, 'CLIENT_ID')} and {_setting(provider, 'CLIENT_SECRET')}"
            )
        return config


def _setting(provider: str, name: str) -> str:
    return f"TB_OAUTH_APPS__{provider.upper()}__{name}"
