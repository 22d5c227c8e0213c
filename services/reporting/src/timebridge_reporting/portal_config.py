"""Settings of the recipients' portal (``TB_PORTAL__*``)."""

from pydantic import BaseModel, ConfigDict, Field


class PortalConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    console_url: str = Field(
        default="http://127.0.0.1:8006",
        pattern=r"^https?://[^\s?#]+$",
        description="The console's base URL: sign-in links point to <console_url>/portal/sign-in",
    )
    link_ttl_s: int = Field(default=900, ge=60, le=86400, description="A sign-in link's life")
    session_ttl_s: int = Field(default=8 * 3600, ge=300, description="A portal sign-in's life")
    requests_per_hour: int = Field(
        default=20, ge=1, description="Reports one recipient may request through the portal"
    )
