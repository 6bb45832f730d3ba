"""The pages a customer's phone sees after scanning a store QR code (Chinese, mobile first).

No script, no external resources: a strict Content-Security-Policy goes with every page.
"""

from __future__ import annotations

from html import escape

from .service import ScanResult

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

_STYLE = (
    "body{margin:0;font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
    "background:#f5f6f7;color:#222}"
    ".card{max-width:420px;margin:24px auto;background:#fff;border-radius:12px;padding:24px;"
    "text-align:center;box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    "h1{font-size:20px;margin:0 0 12px}p{font-size:15px;line-height:1.6;margin:8px 0}"
    "img{width:72%;max-width:260px;margin:12px auto;display:block}"
    ".code{font-size:32px;font-weight:700;letter-spacing:4px;color:#07c160;margin:8px 0}"
    ".muted{color:#888;font-size:13px}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><div class=\"card\">{body}</div></body></html>"
    )


def landing(result: ScanResult) -> str:
    """The routed device's WeChat contact, its QR image and the binding code to send."""
    image = (
        f"<img src=\"/img/{escape(result.qr_sha)}\" alt=\"店铺微信二维码\">"
        if result.qr_sha
        else ""
    )
    contact = escape(result.wechat_name or "店铺客服")
    body = (
        f"<h1>{escape(result.store_name)}</h1>"
        f"<p>添加店铺微信：<b>{contact}</b></p>{image}"
        "<p>长按识别二维码添加好友，<br>并在验证消息里填写：</p>"
        f"<div class=\"code\">店码 {escape(result.binding_code or '')}</div>"
        "<p class=\"muted\">填写店码后，客服会更快为您服务。</p>"
    )
    return _page(result.store_name, body)


def fallback(result: ScanResult) -> str:
    """No device can take a new friend right now."""
    contact = (
        f"<p>也可以直接联系店铺：<b>{escape(result.fallback_contact)}</b></p>"
        if result.fallback_contact
        else ""
    )
    body = (
        f"<h1>{escape(result.store_name)}</h1>"
        "<p>客服暂时都在忙，请稍后再扫一次。</p>"
        f"{contact}<p class=\"muted\">给您带来不便，敬请谅解。</p>"
    )
    return _page(result.store_name, body)


# One response for every token that is not accepted, whatever the reason.
BAD_TOKEN_HTML = _page(
    "二维码无效",
    "<h1>二维码已失效</h1><p>这个二维码无效或已过期。</p>"
    "<p class=\"muted\">请向店铺索取最新的二维码。</p>",
)

BUSY_HTML = _page("请稍后再试", "<h1>请稍后再试</h1><p>服务器有点忙，请过几秒再扫一次。</p>")
