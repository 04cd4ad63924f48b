"""Tiny HTML pages for people who open an emailed link in a browser before the web client (#7)
takes the links over. Bahasa Indonesia first, English below; no scripts from elsewhere."""

from __future__ import annotations

import html

CONFIRM_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Konfirmasi email - Kartu Prakerja</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
button{{font-size:1.1rem;padding:.7rem 1.4rem;background:#0b5394;color:#fff;border:0;border-radius:.4rem}}
button:focus{{outline:3px solid #f1c232}} .en{{color:#444}}</style></head>
<body><h1>Konfirmasi email</h1>
<p>{state_id}</p><p class="en" lang="en">{state_en}</p>
{button}
<p id="result" role="status" aria-live="polite"></p>
<script>
const b=document.getElementById("confirm");
if(b){{b.addEventListener("click",async()=>{{b.disabled=true;
const r=await fetch(location.pathname,{{method:"POST",headers:{{"Accept-Language":"id"}}}});
const j=await r.json();document.getElementById("result").textContent=
r.ok?"Email Anda sudah terkonfirmasi. / Your email is confirmed.":j.message;}});}}
</script></body></html>"""


def confirm_page(valid: bool, message_id: str, message_en: str) -> str:
    """The page a browser sees at ``GET /v1/email-verifications/{token}``: it explains what
    confirming does and confirms with a POST only when the person presses the button (mail
    scanners that fetch the link spend nothing)."""
    button = ('<button id="confirm" type="button">Konfirmasi / Confirm</button>' if valid else "")
    return CONFIRM_PAGE.format(state_id=html.escape(message_id), state_en=html.escape(message_en), button=button)
