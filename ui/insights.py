"""The insights page: how conversations went, from `bot.insights()`, as figures, bar charts and a table.

`summarise(insights)` is a plain function (numbers and pandas tables, no Gradio); `build_insights_app`
draws them. Shares are guarded for the empty case (no conversations yet reads "no data", not 0%). Customers'
questions are shown with emails, addresses and card digits masked (`bot.privacy.mask_personal`).
"""
from __future__ import annotations

import pandas as pd

from bot.privacy import mask_personal

OUTCOMES = ("resolved by the assistant", "handed over", "thumbs up", "thumbs down")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "no data"


def summarise(insights: dict) -> dict:
    """Headline numbers (Markdown), outcome and intent tables for the plots, unanswered questions."""
    conversations = int(insights.get("conversations", 0))
    resolved = int(insights.get("resolved_by_bot", 0))
    handed = int(insights.get("handed_over", 0))
    up, down = int(insights.get("thumbs_up", 0)), int(insights.get("thumbs_down", 0))
    checked, repaired = int(insights.get("claims_checked", 0)), int(insights.get("claims_repaired", 0))
    headline = (f"**{conversations}** conversations · resolved by the assistant "
                f"**{_share(resolved, resolved + handed)}** ({resolved}) · handed over to a person {handed}\n\n"
                f"Thumbs up **{up}**, down **{down}** (helpful {_share(up, up + down)}) · claims checked "
                f"**{checked}**, repaired by the checker **{repaired}** ({_share(repaired, checked)})")
    outcomes = pd.DataFrame({"outcome": list(OUTCOMES), "count": [resolved, handed, up, down]})
    intents = pd.DataFrame([(str(i), int(n)) for i, n in insights.get("top_intents", [])],
                           columns=["intent", "conversations"])
    unanswered = pd.DataFrame({"question the assistant could not answer":
                               [mask_personal(str(q)) for q in insights.get("unanswered", [])]})
    return {"headline": headline, "outcomes": outcomes, "intents": intents, "unanswered": unanswered}


def build_insights_app(bot):
    """The insights page as a gr.Blocks, not launched."""
    import gradio as gr

    with gr.Blocks(title="ShopBot — insights") as app:
        gr.Markdown("## Insights")
        headline = gr.Markdown(elem_id="insights-headline")
        with gr.Row():
            outcomes = gr.BarPlot(x="outcome", y="count", title="Outcomes and ratings", y_lim=[0, None],
                                  sort=list(OUTCOMES), elem_id="insights-outcomes")
            intents = gr.BarPlot(x="intent", y="conversations", title="Top intents", y_lim=[0, None], sort="-y",
                                 elem_id="insights-intents")
        unanswered = gr.Dataframe(label="Questions the assistant could not answer", interactive=False)
        refresh = gr.Button("Refresh")

        def load():
            view = summarise(bot.insights())
            return view["headline"], view["outcomes"], view["intents"], view["unanswered"]

        app.load(load, None, [headline, outcomes, intents, unanswered])
        refresh.click(load, None, [headline, outcomes, intents, unanswered])
    return app
