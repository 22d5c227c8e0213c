"""Reporting settings: the only place this service reads its environment."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from timebridge_providers.kit.clients import BudgetShares

from timebridge_common.config import HttpConfig, ServiceSettings
from timebridge_reporting.portal_config import PortalConfig
from timebridge_reporting.reports_config import ReportsConfig, SmtpConfig


class Settings(BaseSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8005)
    budget: BudgetShares = Field(
        default=BudgetShares.of("reporting"),
        description="This service's share of Core's request limit per token (admin checks)",
    )
    smtp: SmtpConfig = SmtpConfig()
    reports: ReportsConfig = ReportsConfig()
    portal: PortalConfig = PortalConfig()
