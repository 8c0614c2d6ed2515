"""Process settings from the environment (and `.env`): exactly the variables of CONTRACTS.md.

A bad value fails at start with a message naming the variable (`SettingsError`).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/balanceline.db"


class SettingsError(ValueError):
    pass


def _check_url(name: str, value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{name} must be a URL with scheme {' or '.join(schemes)}, got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    public_base_url: str = Field("http://127.0.0.1:8000", alias="PUBLIC_BASE_URL")
    policy_file: str | None = Field(None, alias="POLICY_FILE")
    api_token: SecretStr | None = Field(None, alias="BALANCELINE_API_TOKEN")

    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    twilio_from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    twilio_messaging_service_sid: str | None = Field(None, alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_api_base: str | None = Field(None, alias="TWILIO_API_BASE")

    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL")

    deepgram_api_key: SecretStr | None = Field(None, alias="DEEPGRAM_API_KEY")
    deepgram_url: str | None = Field(None, alias="DEEPGRAM_URL")
    elevenlabs_api_key: SecretStr | None = Field(None, alias="ELEVENLABS_API_KEY")
    elevenlabs_voice_id: str | None = Field(None, alias="ELEVENLABS_VOICE_ID")
    elevenlabs_url: str | None = Field(None, alias="ELEVENLABS_URL")

    stripe_api_key: SecretStr | None = Field(None, alias="STRIPE_API_KEY")
    stripe_webhook_secret: SecretStr | None = Field(None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(None, alias="STRIPE_API_BASE")

    pms: Literal["local", "opendental", "csv"] = Field("local", alias="PMS")
    opendental_base_url: str | None = Field(None, alias="OPENDENTAL_BASE_URL")
    opendental_developer_key: SecretStr | None = Field(None, alias="OPENDENTAL_DEVELOPER_KEY")
    opendental_customer_key: SecretStr | None = Field(None, alias="OPENDENTAL_CUSTOMER_KEY")
    opendental_tier: Literal["read", "commlog", "standard", "payments"] = Field(
        "payments", alias="OPENDENTAL_TIER"
    )
    # remote (throttled per tier) | service | local (unthrottled); unset = from the URL's port (30223/30222)
    opendental_mode: Literal["remote", "service", "local"] | None = Field(None, alias="OPENDENTAL_MODE")

    # Outreach e-mail (SMTP); unset SMTP_HOST -> the e-mail channel is off.
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT", ge=1, le=65535)
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    smtp_from: str | None = Field(None, alias="SMTP_FROM")
    smtp_tls: Literal["starttls", "tls", "none"] = Field("starttls", alias="SMTP_TLS")

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        scheme = urlsplit(v).scheme
        if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql", "postgres"):
            raise ValueError(
                "DATABASE_URL must be sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db, got "
                f"{v!r}"
            )
        if scheme in ("postgresql", "postgres"):
            return "postgresql+asyncpg://" + v.split("://", 1)[1]
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str | None) -> str | None:
        return _check_url("REDIS_URL", v, ("redis", "rediss", "unix"))

    @field_validator("public_base_url")
    @classmethod
    def _public(cls, v: str) -> str:
        checked = _check_url("PUBLIC_BASE_URL", v, ("http", "https"))
        assert checked is not None
        if urlsplit(checked).path not in ("", "/"):
            raise ValueError(
                "PUBLIC_BASE_URL must be an origin without a path, e.g. https://billing.example.com"
            )
        return checked

    @field_validator("twilio_api_base", "openai_base_url", "stripe_api_base", "opendental_base_url")
    @classmethod
    def _http_urls(cls, v: str | None, info: object) -> str | None:
        name = getattr(info, "field_name", "URL")
        alias = cls.model_fields[name].alias or name
        return _check_url(alias, v, ("http", "https"))

    @field_validator("deepgram_url", "elevenlabs_url")
    @classmethod
    def _ws_urls(cls, v: str | None, info: object) -> str | None:
        name = getattr(info, "field_name", "URL")
        alias = cls.model_fields[name].alias or name
        return _check_url(alias, v, ("ws", "wss", "http", "https"))

    @field_validator("twilio_from_number")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        if v and not (v.startswith("+") and v[1:].isdigit() and 8 <= len(v) <= 16):
            raise ValueError(f"TWILIO_FROM_NUMBER must be an E.164 number like +15551234567, got {v!r}")
        return v or None

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together")
        if self.twilio_account_sid and not (self.twilio_from_number or self.twilio_messaging_service_sid):
            raise ValueError("Twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        od_missing = [
            name
            for name, value in (
                ("OPENDENTAL_BASE_URL", self.opendental_base_url),
                ("OPENDENTAL_DEVELOPER_KEY", self.opendental_developer_key),
                ("OPENDENTAL_CUSTOMER_KEY", self.opendental_customer_key),
            )
            if not value
        ]
        if self.pms == "opendental" and od_missing:
            raise ValueError(f"PMS=opendental needs {', '.join(od_missing)} (see docs/pms.md)")
        return self

    @model_validator(mode="after")
    def _smtp(self) -> Settings:
        if self.smtp_host:
            if not self.smtp_from or "@" not in self.smtp_from or any(c in self.smtp_from for c in " <>\r\n"):
                raise ValueError("SMTP_HOST needs SMTP_FROM, a bare address like billing@example.com")
            if bool(self.smtp_username) != bool(self.smtp_password):
                raise ValueError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
        return self

    # ---- derived
    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None

    @property
    def stripe_configured(self) -> bool:
        return self.stripe_api_key is not None

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise `SettingsError` naming the bad variable(s)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "settings"
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{loc}: {msg}")
        raise SettingsError("invalid configuration: " + "; ".join(lines)) from exc
