"""Invoice-export settings: the only place this service reads its environment."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from timebridge_providers.kit.credentials import OwnerSettings

from timebridge_common.config import HttpConfig, ServiceSettings


class AccountingApp(BaseModel):
    """Timebridge's registered app at one accounting tool (its developer portal gives these).

    ``webhook_secret`` is QuickBooks' verifier token or Xero's webhook key (one per app);
    FreshBooks signs with a verifier per callback, learned when the callback is registered.
    The URLs default to the tool's production endpoints; ``make dev`` points them at the
    sandboxes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")
    api_url: str
    authorize_url: str
    token_url: str

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret.get_secret_value())


QUICKBOOKS = AccountingApp(
    api_url="https://quickbooks.api.intuit.com",
    authorize_url="https://appcenter.intuit.com/connect/oauth2",
    token_url="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",  # noqa: S106 - a URL
)
XERO = AccountingApp(
    api_url="https://api.xero.com",
    authorize_url="https://login.xero.com/identity/connect/authorize",
    token_url="https://identity.xero.com/connect/token",  # noqa: S106 - a URL
)
FRESHBOOKS = AccountingApp(
    api_url="https://api.freshbooks.com",
    authorize_url="https://auth.freshbooks.com/oauth/authorize/",
    token_url="https://api.freshbooks.com/auth/oauth/token",  # noqa: S106 - a URL
)


class Settings(BaseSettings, ServiceSettings, OwnerSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8004)
    encryption_key: SecretStr = Field(
        description="base64url 32-byte platform key: webhook verifiers, the Core connection"
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8004",
        description="Where browsers come back from the tools' consent screens and the tools"
        " deliver webhooks: <this>/v1/oauth/<tool>/callback, <this>/v1/webhooks/<tool>",
    )
    console_url: str | None = Field(
        default=None,
        description="The console's base URL: a browser coming back from a tool's consent"
        " screen is sent to its Accounting page (or, refused, a page saying why) instead of"
        " shown the callback's JSON; unset: JSON as before",
    )
    quickbooks: AccountingApp = QUICKBOOKS
    xero: AccountingApp = XERO
    freshbooks: AccountingApp = FRESHBOOKS
    poll_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="How often each connection's clients and invoices are"
        " read for changes (the fallback to, and check on, the tools' webhooks)",
    )
    poll_tick_s: float = Field(
        default=15.0, gt=0, description="How often due polls and stalled exports are looked for"
    )
    export_stall_s: float = Field(
        default=600.0, gt=0, description="An export not finished after this is requested again"
    )
    quickbooks_hours_item: str = Field(
        default="Hours", description="QuickBooks service item the time lines are booked on"
    )
    quickbooks_expenses_item: str = Field(
        default="Billable expenses", description="QuickBooks service item of expense lines"
    )
    xero_sales_account_code: str | None = Field(
        default=None, description="Xero account code put on every line (drafts need none)"
    )
    publish_timeout_s: float = Field(
        default=10.0, gt=0, description="How long a webhook waits for Kafka before answering 503"
    )
    freshbooks_replay_window_s: float = Field(
        default=60.0,
        gt=0,
        description="FreshBooks deliveries carry no time nor id: an identical signed notice"
        " within this window is a replay (answered, not republished; a genuine repeat inside"
        " it is left to the poll)",
    )
    oauth_state_ttl_s: int = Field(
        default=900, gt=0, description="How long an admin may take on a tool's consent screen"
    )

    def accounting_apps(self) -> dict[str, AccountingApp]:
        """Timebridge's app at each accounting tool, by provider name (the registry's)."""
        return {"quickbooks": self.quickbooks, "xero": self.xero, "freshbooks": self.freshbooks}

    def tool_extras(self) -> dict[str, dict[str, str]]:
        """What each tool's sessions carry besides the company (``Access.extra``): the items
        QuickBooks lines are booked on, the account code of Xero lines."""
        extras: dict[str, dict[str, str]] = {
            "quickbooks": {
                "time_item": self.quickbooks_hours_item,
                "expense_item": self.quickbooks_expenses_item,
            },
        }
        if self.xero_sales_account_code:
            extras["xero"] = {"account_code": self.xero_sales_account_code}
        return extras

    @property
    def connection_webhook_window_s(self) -> float:
        """How long an identical signed notice of a per-connection webhook (FreshBooks) is a
        replay."""
        return self.freshbooks_replay_window_s
