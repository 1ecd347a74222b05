"""One settings object, read once from the environment (prefix TIAOJIE_)."""

from __future__ import annotations

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIAOJIE_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    # PostgreSQL with a separate owner: `tiaojie init` migrates through this URL (the owner) and grants
    # `app_db_role` (the role in database_url) no more than the app needs (models/audit_chain.py).
    migrate_database_url: str | None = None
    app_db_role: str | None = None
    secret_key: str | None = None

    # The center this installation serves; the case number prefix is its short name (瑞调〔2026〕00017号).
    center_code: str = "RA"
    center_name: str = "瑞安市社会矛盾纠纷调处化解中心"
    committee_name: str = "瑞安市人民调解委员会"
    case_no_prefix: str = "瑞调"
    court_name: str = "瑞安市人民法院"
    public_base_url: str = "http://127.0.0.1:8000"

    # 群体性纠纷 thresholds (DESIGN: make thresholds settings).
    mass_headcount: int = Field(5, description="一方当事人人数达到该值即为群体性纠纷")
    mass_labor_claimants: int = Field(10, description="劳动争议（欠薪）申请人数达到该值即为群体性纠纷")
    related_case_window_days: int = 180
    high_risk_amount: str = "1000000"

    # Escalation: after the stage deadline, climb one level per further period.
    escalation_period_days: int = 7
    token_ttl_minutes: int = 480
    # Login throttle storage (the `limits` library): "memory://" for one process; several web processes
    # must share one, e.g. "redis://127.0.0.1:6379", or each counts wrong passwords on its own.
    rate_limit_storage: str = "memory://"
    # Online applications (POST /api/v1/public/applications, /apply) one client address may file per
    # 15 minutes (the throttle's window): a family or a small office, not a flood.
    online_applications_per_window: int = 5
    # Proxies whose X-Forwarded-Proto/-For `serve` trusts (api/main.behind_proxies: addresses or networks,
    # comma-separated; "*" trusts any): behind them https makes cookies Secure and the client address is
    # the real one. None by default: set it when serve runs behind a reverse proxy.
    trusted_proxies: str = ""
    # argon2 cost: "default" is pwdlib's recommendation; "fast" is for test suites only (models/passwords.py).
    password_hash_cost: Literal["default", "fast"] = "default"
    # How documents become PDFs: "weasyprint", the printed page; "plain" (documents/plain.py), the same words
    # on plain pages with no layout, for test runs whose subject is not the printed page. Never in service.
    document_renderer: Literal["weasyprint", "plain"] = "weasyprint"

    # Messages to parties (flows/messages.py). SMS: "file" appends one JSON line per message to
    # {data_dir}/messages/sms.log (no provider needed); "http" calls sms_http_url: a URL with {to} and
    # {text} placeholders is fetched with GET (values URL-encoded), any other URL gets a JSON POST
    # {"id", "to", "text"}. E-mail: SMTP at smtp_url (smtp://[user:pass@]host:port, ?starttls=true;
    # smtps:// for TLS from the start); unset, e-mails go to {data_dir}/messages/email.log.
    sms_backend: Literal["file", "http"] = "file"
    sms_http_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "tiaojie@localhost"
    # The center's PDF signing certificate (PKCS#12) and its password; unset, `tiaojie init` makes a
    # self-signed one in the data dir (documents/signing.py).
    signing_cert: Path | None = None
    signing_cert_password: str | None = None

    def ensure_data_dir(self) -> Path:
        """The data dir, created if need be, only the owner may enter it (0700): it holds the database,
        the PDFs with full ID numbers and the secret key. An existing one is tightened too (an older
        install, or a parent created by Prefect's home folder first)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.data_dir.stat().st_mode & 0o077:
            # Not ours to change (a shared mount)? The files inside are still private.
            with contextlib.suppress(PermissionError):
                self.data_dir.chmod(0o700)
        return self.data_dir

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tiaojie.db').resolve()}"

    @property
    def effective_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.ensure_data_dir() / "secret_key"
        if not key_file.exists():
            # Created 0600 from the start: never readable by others, not even for a moment.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def listen_base_url(host: str, port: int) -> str:
    """The address a server listening on host:port is reached at from this machine: a wildcard host
    (0.0.0.0, ::) names no one address, so the loopback one (serve then warns to set the public URL)."""
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0"):
        bare = "127.0.0.1"
    elif bare == "::":
        bare = "::1"
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


def record_listen_address(host: str, port: int) -> None:
    """`tiaojie serve` calls this before anything reads the settings' public URL: with
    TIAOJIE_PUBLIC_BASE_URL unset, the documents this process (and its child processes) issue print the
    address it was started on, not the default port. A set TIAOJIE_PUBLIC_BASE_URL wins."""
    if os.environ.get("TIAOJIE_PUBLIC_BASE_URL"):
        return
    os.environ["TIAOJIE_PUBLIC_BASE_URL"] = listen_base_url(host, port)
    get_settings.cache_clear()
