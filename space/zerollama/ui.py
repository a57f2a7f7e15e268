"""The Space's page (Gradio, at `/` for browsers): curated models with their cost in COP, a small chat
playground that answers through the server's own generation path, the visitor's quota, and how to point
Cognitia at this Space."""

from __future__ import annotations

import html
import math
import os
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from .api.catalog_route import CATALOG_PATH, build_catalog
from .api.http import off_loop
from .core.costs import CostSettings
from .core.errors import ApiError
from .core.jobs import Service
from .core.quota import QuotaLedger
from .core.registry import ModelRegistry
from .core.schemas import ChatRequest, parse_value
from .gpu.generation import Failed, TextDelta

TABLE_ID = "zerollama-models"
DEMO_NOTE_ID = "zerollama-demo-note"
KEY_ID = "zerollama-key"
# Playground replies stay short: each one spends the visitor's GPU quota.
PLAYGROUND_MAX_TOKENS = 256
KEYED_NOTE = (
    "**This Space is protected by a key.** Enter it above to see the models' state and costs and to use the "
    "playground (API callers send it as `Authorization: Bearer <key>` or `X-API-Key`)."
)


def format_cop(value: float | None) -> str:
    """Pesos as the validate report writes them too (src/zerollama-catalog.ts formatCop; both held to
    test/fixtures/cop-format.json): whole pesos with '.' between thousands, as COP is written (its smallest
    coin is 50 pesos); under 10 one decimal after ',' so that a reply costing a few pesos does not read as
    free. Half rounds up, the same float arithmetic as the TypeScript. None (no figure) is a dash."""
    if value is None:
        return "—"
    scale = 10 if value != 0 and abs(value) < 10 else 1
    scaled = math.floor(abs(value) * scale + 0.5)
    whole, tenth = divmod(scaled, scale)
    sign = "-" if value < 0 and scaled > 0 else ""
    return f"{sign}$ {whole:,}".replace(",", ".") + (f",{tenth}" if tenth else "")


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1e9:.1f} GB"


def models_table(document: dict[str, Any]) -> str:
    """The curated models as an HTML table (costs from the catalog document, so page and API agree)."""
    rows = []
    for model in document["models"]:
        cost = model["cost"] or {}
        speed = model["tokens_per_second"]
        over_quota = cost.get("over_quota_per_1k_tokens_cop")
        rows.append(
            "<tr>"
            f"<td><code>{html.escape(model['name'])}</code></td>"
            f"<td>{html.escape(model['purpose'])}<br><small>{html.escape(model['recommended_use'])}</small></td>"
            f"<td>{html.escape(model['parameter_size'])} · {_size(model['size_bytes'])}</td>"
            f"<td>{'yes' if model['loaded'] else 'no'}</td>"
            f"<td>{'—' if speed is None else f'{speed:g}'}</td>"
            f"<td>{cost.get('quota_seconds_per_1k_tokens', '—')}</td>"
            f"<td data-cop='{cost.get('per_1k_tokens_cop', '')}'>{format_cop(cost.get('per_1k_tokens_cop'))}</td>"
            f"<td data-cop='{'' if over_quota is None else over_quota}'>{format_cop(over_quota)}</td>"
            f"<td data-cop='{cost.get('typical_reply_cop', '')}'>{format_cop(cost.get('typical_reply_cop'))}</td>"
            f"<td>{html.escape(cost.get('basis', 'unknown'))}</td>"
            "</tr>"
        )
    excluded = "".join(
        f"<li><code>{html.escape(e['name'])}</code>: {html.escape(e['reason'])}</li>" for e in document["excluded"]
    )
    return (
        f"<table id='{TABLE_ID}'><thead><tr>"
        "<th>Model</th><th>Purpose</th><th>Size (bf16)</th><th>Loaded</th><th>Tokens/s</th>"
        "<th>Quota s per 1k tokens</th><th>COP per 1k tokens billed now</th>"
        "<th>COP per 1k tokens after quota</th>"
        f"<th>COP per reply (~{document_typical_tokens(document)} tokens)</th><th>Basis</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f"<p><b>Not offered:</b></p><ul>{excluded}</ul>" if excluded else "")
    )


def document_typical_tokens(document: dict[str, Any]) -> int | str:
    costs = [m["cost"] for m in document["models"] if m["cost"]]
    return costs[0]["typical_reply_tokens"] if costs else "300"


def pricing_note(document: dict[str, Any], settings: CostSettings) -> str:
    tier = settings.tier
    rate = f"1 USD = {format_cop(document['usd_cop'])} ({document['usd_cop_date']})"
    if not settings.on_zerogpu:
        hourly = settings.flavor.usd_per_hour or 0.0
        return (
            f"Dedicated hardware **{settings.flavor.label}**: {format_cop(hourly * document['usd_cop'])} per hour "
            f"while running, busy or idle. {rate}."
        )
    after = (
        "then $1 USD per 10 GPU-minutes from prepaid credits"
        if tier.can_buy_over_quota
        else "then requests are refused (HTTP 429) until the quota resets"
    )
    return (
        f"ZeroGPU, account tier **{tier.label}**: {tier.daily_quota_seconds / 60:g} GPU-minutes per day included, "
        f"{after}. Replies inside the quota bill nothing; the 'after quota' columns show what the same reply costs "
        f"once it is spent. {rate}."
    )


def _count(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".")


def endpoint_advice_text(document: dict[str, Any]) -> str:
    """The catalog's break-even advice (costs.endpoint_advice) in one paragraph; '' when it has none."""
    advice = document.get("endpoint_advice")
    if not advice:
        return ""
    endpoint = (
        f"a dedicated Inference Endpoint ({html.escape(advice['instance_label'])}, US${advice['usd_per_hour']:g}/h, "
        f"{advice['awake_hours_per_day']:g} h a day) costs {format_cop(advice['endpoint_cop_per_day'])} a day"
    )
    if advice["measured_hours"]:
        traffic = f"About {_count(advice['replies_per_day'])} replies a day here (last {advice['measured_hours']:g} h)"
    else:
        traffic = "No replies measured yet"
    title = "**ZeroGPU or an Inference Endpoint:** "
    if advice["break_even_replies_per_day"] is None:
        return (
            f"{title}{traffic}. This tier cannot buy credits: past about {_count(advice['quota_replies_per_day'])} "
            f"replies a day calls are refused (HTTP 429), while {endpoint} for any number of replies."
        )
    credits = format_cop(advice["zerogpu_cop_per_day"])
    spend = f", {credits} a day in ZeroGPU credits" if advice["measured_hours"] else ""
    verdict = "**the endpoint is cheaper**" if advice["endpoint_cheaper"] else "ZeroGPU stays cheaper"
    return (
        f"{title}{traffic}{spend}; {endpoint}: {verdict}. Break-even: about "
        f"{_count(advice['break_even_replies_per_day'])} replies a day "
        f"(≈{advice['quota_seconds_per_reply']:g} quota-seconds each)."
    )


def quota_text(document: dict[str, Any]) -> str:
    quota = document["quota"]
    if document["hardware"] != "zero-a10g":
        return "**Quota:** none on dedicated hardware (billed per hour)."
    daily = quota["daily_seconds"] / 60
    if quota["used_seconds"] is None:
        return (
            f"**Your quota:** unknown until you call with a Hugging Face token "
            f"(daily quota of this tier: {daily:g} min)."
        )
    return (
        f"**Your quota today:** {quota['used_seconds'] / 60:.2f} min used through this Space, "
        f"{quota['left_seconds'] / 60:.2f} of {daily:g} min left."
    )


def api_base_url(request: gr.Request | None) -> str:
    host = os.environ.get("SPACE_HOST", "").strip()
    if host:
        return f"https://{host}"
    starlette_request = getattr(request, "request", None)
    if starlette_request is not None:
        return str(starlette_request.base_url).rstrip("/")
    return "http://127.0.0.1:7860"


def cognitia_snippet(base_url: str) -> str:
    return (
        f"# Cognitia (Railway variables)\n"
        f"OLLAMA_BASE_URL={base_url}\n"
        f"# private Space: send a Hugging Face token with every request\n"
        f"#   Authorization: Bearer hf_...\n\n"
        f"# try it\n"
        f"curl {base_url}/api/tags\n"
        f"curl {base_url}{CATALOG_PATH}\n"
    )


async def playground_reply(
    service: Service, model: str, messages: list[dict[str, str]], request: gr.Request
) -> AsyncIterator[str]:
    """One chat reply through the server's own path (the same job and GPU entry point as /api/chat); the
    service charges it to the visitor's quota and records it in the ledger like an API call."""
    body = {"model": model, "messages": messages, "stream": True, "options": {"num_predict": PLAYGROUND_MAX_TOKENS}}
    job = await off_loop(service.chat_job, parse_value(body, ChatRequest))
    async for event in service.run(job, getattr(request, "request", None)):
        if isinstance(event, TextDelta):
            yield event.text
        elif isinstance(event, Failed):
            raise event.error()


def build_demo(
    registry: ModelRegistry,
    costs: CostSettings,
    service: Service | None = None,
    ledger: QuotaLedger | None = None,
    demo_note: str = "",
    keyed: bool = False,
) -> gr.Blocks:
    """The page. `service` answers the playground (without it the playground is hidden); `ledger` is the
    one the catalog route and the generation routes share; `demo_note` tells visitors what stands in for the
    catalog models, if anything does.

    `keyed` (ZEROLLAMA_API_KEY is set): the page shows a key box and fills in nothing until the key is
    entered. Every event takes the box as its first input: that is where the access guard (guard.py) looks
    for the key, since the browser's Gradio client cannot add headers. Without the key the page shows its
    shell only (title, the key box, the model names of the public catalog)."""
    ledger = ledger if ledger is not None else QuotaLedger()
    curated = [model["name"] for model in build_catalog(registry.statuses(), costs, ledger, {})["models"]]

    def document(request: gr.Request | None) -> dict[str, Any]:
        headers = dict(request.headers) if request is not None else {}
        return build_catalog(registry.statuses(), costs, ledger, headers)

    # `_key` is the key box: the guard has checked it before Gradio calls either handler.
    def refresh(_key: str, request: gr.Request) -> tuple[str, str, str, str]:
        current = document(request)
        base = api_base_url(request)
        advice = endpoint_advice_text(current)
        pricing = pricing_note(current, costs) + (f"\n\n{advice}" if advice else "")
        return models_table(current), pricing, quota_text(current), cognitia_snippet(base)

    async def respond(_key: str, message: str, history: list[dict[str, Any]], model: str, request: gr.Request):
        if not message.strip() or service is None:
            yield history, message
            return
        messages = [{"role": m["role"], "content": _text(m["content"])} for m in history]
        messages.append({"role": "user", "content": message})
        reply = ""
        shown = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        try:
            async for piece in playground_reply(service, model, messages, request):
                reply += piece
                shown[-1] = {"role": "assistant", "content": reply}
                yield shown, ""
        except ApiError as error:
            raise gr.Error(error.message) from error
        if not reply:
            shown[-1] = {"role": "assistant", "content": "(empty reply)"}
            yield shown, ""

    with gr.Blocks(title="zerollama — Ollama API on Hugging Face ZeroGPU") as demo:
        gr.Markdown(
            "# zerollama\nThe Ollama API (and OpenAI's `/v1`) on Hugging Face ZeroGPU. "
            f"Costs in Colombian pesos (COP); the same figures as `GET {CATALOG_PATH}`."
        )
        key = gr.Textbox(label="Key of this Space", type="password", visible=keyed, elem_id=KEY_ID)
        pricing = gr.Markdown(KEYED_NOTE if keyed else "")
        if demo_note:
            gr.Markdown(demo_note, elem_id=DEMO_NOTE_ID)
        table = gr.HTML(elem_id="zerollama-table")
        quota = gr.Markdown(elem_id="zerollama-quota")
        with gr.Row():
            with gr.Column(scale=3, visible=service is not None):
                gr.Markdown("## Playground")
                model = gr.Dropdown(curated, value=curated[0] if curated else None, label="Model")
                chatbot = gr.Chatbot(label="Chat", height=320, elem_id="zerollama-chat")
                prompt = gr.Textbox(label="Message", placeholder="Ask something…", elem_id="zerollama-prompt")
                send = gr.Button("Send", variant="primary", elem_id="zerollama-send")
            with gr.Column(scale=2):
                gr.Markdown("## Use it from Cognitia")
                snippet = gr.Code(language="shell", label="API base URL", buttons=["copy"], elem_id="zerollama-api")

        outputs = [table, pricing, quota, snippet]
        # On a keyed Space the guard refuses events without the key, so the page waits for it.
        (key.submit if keyed else demo.load)(refresh, [key], outputs)
        for trigger in (prompt.submit, send.click):
            trigger(respond, [key, prompt, chatbot, model], [chatbot, prompt]).then(refresh, [key], outputs)
    return demo


def _text(content: Any) -> str:
    """Gradio 6 may hand message content back as a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
