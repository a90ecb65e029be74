"""Writers without a model: scripted replies are checked, repaired or replaced by the template; streams equal
writes. Facts come from the real demo shop."""
from __future__ import annotations

import pytest

from knowledge.faq import load_faq
from trustgen.types import ReplyRequest, fact_from_faq, fact_from_variant
from trustgen.writer import GroundedWriter, ScriptedWriter, TemplateWriter, WriterConfig, load_default_writer, pieces


def request(bottle, **kw) -> ReplyRequest:
    fact = fact_from_variant(bottle)
    template = f"The Water Bottle ({', '.join(bottle['options'].values())}) costs ${bottle['price']:.2f}."
    return ReplyRequest(message="How much is the water bottle?", facts=(fact,), template=template, **kw)


def test_scripted_reply_that_checks_out_is_sent_as_written(bottle):
    text = f"This Water Bottle is ${bottle['price']:.2f}."
    writer = ScriptedWriter().enqueue(text)
    reply = writer.write(request(bottle))
    assert reply.text == text and reply.used_model and not reply.fell_back
    assert reply.sources == (f"item:{bottle['item_id']}",)
    assert "Facts:" in writer.calls[0][0]["content"] and bottle["item_id"] in writer.calls[0][0]["content"]


def test_wrong_price_is_repaired(bottle):
    reply = ScriptedWriter(f"This Water Bottle is ${bottle['price'] + 10:.2f}.").write(request(bottle))
    assert reply.text == f"This Water Bottle is ${bottle['price']:.2f}."
    assert len(reply.repaired) == 1 and reply.unsupported == 0 and reply.used_model


def test_unrepairable_reply_falls_back_to_template(bottle):
    faq = fact_from_faq(next(e for e in load_faq() if e.id == "cancel-reasons"))
    req = request(bottle)
    req = ReplyRequest(req.message, req.facts + (faq,), req.template)
    reply = ScriptedWriter("You may cancel because 'it is too heavy' is an accepted reason.").write(req)
    assert reply.fell_back and reply.text == req.template and not reply.used_model and reply.unsupported == 0


def test_empty_model_output_and_use_model_false_send_the_template(bottle):
    writer = ScriptedWriter()  # nothing enqueued: the "model" says nothing
    assert writer.write(request(bottle)).fell_back
    no_model = writer.write(request(bottle, use_model=False))
    assert no_model.text == request(bottle).template and not no_model.fell_back and no_model.claims
    assert len(writer.calls) == 1  # use_model=False never reaches the generator


def test_template_writer_checks_the_template(bottle):
    reply = TemplateWriter().write(request(bottle))
    assert reply.text == request(bottle).template and reply.unsupported == 0
    assert {c.kind for c in reply.claims} >= {"price", "option"}


def test_stream_joins_to_the_checked_write(bottle):
    text = f"Good news: the Water Bottle costs ${bottle['price'] + 1:.2f} and holds {bottle['options']['capacity']}."
    streamed = "".join(ScriptedWriter(text).stream(request(bottle)))
    assert streamed == ScriptedWriter(text).write(request(bottle)).text
    assert f"${bottle['price']:.2f}" in streamed  # the repaired value, never the wrong one
    assert "".join(pieces("a  b\nc d ", 2)) == "a  b\nc d " == "".join(pieces("a  b\nc d ", 0))


def test_missing_model_degrades_to_templates(bottle, tmp_path):
    writer = load_default_writer(config=WriterConfig(base_path=str(tmp_path / "no-model")))
    reply = writer.write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template
    assert not writer.healthy and "no-model" in writer.failure and "shopbot setup" in writer.failure


def test_writer_without_generator_is_template_only(bottle):
    assert GroundedWriter().write(request(bottle)).text == request(bottle).template


def test_looping_model_output_is_never_sent(bottle):
    loop = f"The Water Bottle: {bottle['item_id']}: {bottle['item_id']}: {bottle['item_id']}: {bottle['item_id']}:"
    reply = ScriptedWriter(loop).write(request(bottle))
    assert reply.fell_back and reply.text == request(bottle).template
    again = "The Water Bottle is great for you.\n\nThe Water Bottle is great for you."
    looped = ScriptedWriter(again).write(request(bottle))  # the first sentence passed and was sent already:
    assert looped.text == "The Water Bottle is great for you."  # the loop ends the reply, never repeated


def test_a_reply_cut_by_a_limit_keeps_whole_sentences_only():
    from trustgen.writer import complete_sentences
    assert complete_sentences("It costs $47.84. The status of your order is") == "It costs $47.84."
    assert complete_sentences("The status of your order #W7634667 is") == ""


def test_a_reply_that_leaves_out_what_was_asked_sends_the_template(bottle):
    """"How much is it?" answered with stock only is true but no answer: the template states the price."""
    stock = "in stock" if bottle["available"] else "out of stock"
    req = request(bottle, must_state=("price",))
    reply = ScriptedWriter(f"The Water Bottle is {stock}.").write(req)
    assert reply.fell_back and reply.text == req.template and not reply.used_model
    answered = ScriptedWriter(f"The Water Bottle costs ${bottle['price']:.2f}.").write(req)
    assert answered.used_model and not answered.fell_back
