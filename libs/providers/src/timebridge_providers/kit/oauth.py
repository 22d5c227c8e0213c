"""OAuth 2.0 as a provider package declares it (:class:`OAuthDescription`) and as the credential
owner configures it (:class:`OAuthApp`: Timebridge's app at the provider).

The description is data: the token endpoint (URL and protocol), and for consent from here the
consent page, the scopes and the provider's further consent parameters. The services that run a
consent and exchange its code read it through :func:`oauth_of` and never name a provider.
"""

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from timebridge_common.outbound.oauth import BasicAuthTokenEndpoint, TokenEndpoint, Tokens

if TYPE_CHECKING:  # the registry imports this module's OAuthDescription for its field
    from timebridge_providers.kit.registry import Provider


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """Timebridge's registration with a provider (the credential owner's settings)."""

    client_id: str
    client_secret: SecretStr
    token_url: str | None = None
    """Overrides the provider's token URL (a sandbox, a regional endpoint)."""
    redirect_uri: str | None = None


EndpointFactory = Callable[[str, OAuthApp, str, httpx.AsyncClient], TokenEndpoint]
"""(provider name, app, token URL, shared pool) -> the provider's token endpoint."""


def form_basic_auth(
    provider: str, app: OAuthApp, token_url: str, http: httpx.AsyncClient
) -> TokenEndpoint:
    """RFC 6749 as most providers speak it: form body, client id and secret as HTTP Basic."""

    class Endpoint(BasicAuthTokenEndpoint):
        default_token_url = token_url

    Endpoint.provider = provider
    return Endpoint(app.client_id, app.client_secret.get_secret_value(), http=http)


def basic_auth_endpoint(endpoint: type[BasicAuthTokenEndpoint]) -> EndpointFactory:
    """The factory of a provider's own RFC 6749 endpoint class (its provider name, its error
    answers), given the app's id and secret and the token URL."""

    def open_endpoint(
        provider: str,  # noqa: ARG001 - the factory's signature
        app: OAuthApp,
        token_url: str,
        http: httpx.AsyncClient,
    ) -> TokenEndpoint:
        return endpoint(
            app.client_id, app.client_secret.get_secret_value(), token_url=token_url, http=http
        )

    return open_endpoint


class FormBodyTokenEndpoint(BasicAuthTokenEndpoint):
    """RFC 6749 grants with the client id and secret in the form body (RFC 6749 2.3.1's
    alternative), not as HTTP Basic: for providers documenting only that."""

    def __init__(self, client_id: str, client_secret: str, **options: Any) -> None:
        super().__init__(client_id, client_secret, **options)
        self._app = {"client_id": client_id, "client_secret": client_secret}
        self._auth = None  # type: ignore[assignment]  # no Basic header: the body carries them

    async def _grant(self, form: dict[str, str]) -> Tokens:
        return await super()._grant({**form, **self._app})


def form_body_auth(
    provider: str, app: OAuthApp, token_url: str, http: httpx.AsyncClient
) -> TokenEndpoint:
    """RFC 6749 with the client id and secret in the form body."""

    class Endpoint(FormBodyTokenEndpoint):
        default_token_url = token_url

    Endpoint.provider = provider
    return Endpoint(app.client_id, app.client_secret.get_secret_value(), http=http)


@dataclass(frozen=True, slots=True)
class Consented:
    """A consent's exchanged code, for the provider to complete the connection from (the
    credential owner calls :attr:`OAuthDescription.complete` before it keeps the tokens)."""

    access_token: str = field(repr=False)
    base_url: str
    extra: Mapping[str, str]
    answer: Mapping[str, str] = field(default_factory=dict)
    """The token answer's further text fields (Wrike's ``host``)."""
    returned: Mapping[str, str] = field(default_factory=dict)
    """The consent's callback parameters besides ``code`` and ``state`` (Zoho's ``location``
    and ``accounts-server``)."""


class ConsentIncompleteError(ValueError):
    """The consent does not decide the connection (several organisations and none chosen, the
    one chosen not connected): the reason, in words, for the person to connect again."""


TokenUrlOf = Callable[[Mapping[str, str], str], str]
"""(a consent's callback parameters, or a stored connection's fields; the configured token URL)
-> the token URL of this account (its data centre's). Raises :class:`ConsentIncompleteError`
for a data centre that is not the provider's."""

Completion = Callable[[Consented, httpx.AsyncClient], Awaitable[tuple[str, dict[str, str]]]]
"""(consented, pool) -> the connection's base URL and fields, with what the consent decided
(Xero: the organisation among ``/connections``). Raises :class:`ConsentIncompleteError`, or
:class:`~timebridge_common.errors.TransientError` when the provider cannot be asked now."""


@dataclass(frozen=True, slots=True)
class OAuthDescription:
    """How a provider signs in with OAuth 2.0: its token endpoint (URL and, if not plain RFC
    6749, its endpoint factory) and, for consent from here, its consent page and what it asks.

    Data only, so the services that run a consent never name a provider: the credential owner
    builds the consent URL with :meth:`consent_url` from what is described here and the app's
    client id (its setting)."""

    token_url: str
    endpoint: EndpointFactory = form_basic_auth
    authorize_url: str | None = None
    """Where a person consents (RFC 6749 authorization code grant): ``None``, not from here."""
    scopes: tuple[str, ...] = ()
    """The scopes asked for (``scope``; none: the app's registered ones)."""
    scope_separator: str = " "
    """How the scopes are joined (RFC 6749: a space; some providers use a comma)."""
    authorize_params: tuple[tuple[str, str], ...] = ()
    """Further fixed consent parameters the provider documents (offline access, a prompt)."""
    nonce: bool = False
    """OpenID Connect: the consent carries a fresh ``nonce`` (a provider requiring it)."""
    consent_fields: frozenset[str] = frozenset()
    """Connection fields the consent itself decides (:attr:`complete`): they may be left empty
    when a consent starts."""
    complete: Completion | None = None
    """Completes the connection after the code's exchange (see :data:`Completion`)."""
    token_url_of: TokenUrlOf | None = None
    """An account's own token URL (a data centre's: Zoho), for its code and its refreshes."""

    def open(self, provider: str, app: OAuthApp, http: httpx.AsyncClient) -> TokenEndpoint:
        return self.endpoint(provider, app, app.token_url or self.token_url, http)

    def consent_url(
        self, client_id: str, redirect_uri: str, state: str, *, page: str | None = None
    ) -> str:
        """The consent page (``page``: an override, e.g. a sandbox's) with the app's client id,
        the redirect URI, ``state`` and what the provider asks for."""
        where = page or self.authorize_url
        if not where:
            raise ValueError("no consent page is described")
        query: dict[str, str] = {
            "response_type": "code", "client_id": client_id,
            "redirect_uri": redirect_uri, "state": state,
        }  # fmt: skip
        if self.scopes:
            query["scope"] = self.scope_separator.join(self.scopes)
        query |= dict(self.authorize_params)
        if self.nonce:
            query["nonce"] = secrets.token_urlsafe(16)
        separator = "&" if "?" in where else "?"
        return f"{where}{separator}{urlencode(query)}"


def oauth_of(provider: "Provider") -> OAuthDescription | None:
    """The provider's OAuth description, if it signs in with OAuth."""
    return provider.oauth
