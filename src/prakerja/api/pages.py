"""Tiny HTML pages for people who open an emailed link in a browser before the web client (#7)
takes the links over. Bahasa Indonesia first, English below; no scripts from elsewhere.

Every page goes out with :data:`PAGE_HEADERS` (issue 16): a Content-Security-Policy that allows
only this page's own inline script and style, by their SHA-256 hashes (no other script runs,
even one injected into the text), fetches to its own origin, and no framing; plus nosniff, no
referrer (the URL holds a single-use token) and no caching.
"""

from __future__ import annotations

import base64
import hashlib
import html

from fastapi.responses import HTMLResponse

STYLE = """body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1.1rem;padding:.7rem 1.4rem;background:#0b5394;color:#fff;border:0;border-radius:.4rem}
button:focus{outline:3px solid #f1c232} .en{color:#444}"""

SCRIPT = """
const b=document.getElementById("confirm");
if(b){b.addEventListener("click",async()=>{b.disabled=true;
const r=await fetch(location.pathname,{method:"POST",headers:{"Accept-Language":"id"}});
const j=await r.json();document.getElementById("result").textContent=
r.ok?"Email Anda sudah terkonfirmasi. / Your email is confirmed.":j.message;});}
"""

CONFIRM_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Konfirmasi email - Kartu Prakerja</title>
<style>{style}</style></head>
<body><h1>Konfirmasi email</h1>
<p>{state_id}</p><p class="en" lang="en">{state_en}</p>
{button}
<p id="result" role="status" aria-live="polite"></p>
<script>{script}</script></body></html>"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: the headers of every page here (the hashes are of STYLE and SCRIPT exactly as embedded)
PAGE_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def confirm_page(valid: bool, message_id: str, message_en: str) -> str:
    """The page a browser sees at ``GET /v1/email-verifications/{token}``: it explains what
    confirming does and confirms with a POST only when the person presses the button (mail
    scanners that fetch the link spend nothing)."""
    button = ('<button id="confirm" type="button">Konfirmasi / Confirm</button>' if valid else "")
    return CONFIRM_PAGE.format(state_id=html.escape(message_id), state_en=html.escape(message_en), button=button,
                               style=STYLE, script=SCRIPT)


def page_response(body: str, status_code: int = 200) -> HTMLResponse:
    """``body`` as an HTML reply with :data:`PAGE_HEADERS`."""
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)
