"""Generation with the real converted SmolLM2 base model (loaded once per session): greedy determinism, stop
strings, the time limit, streaming, prompt fitting, and clear errors for missing or corrupt model files."""
from __future__ import annotations

import shutil

import pytest

from trustgen.convert import base_model_path, is_model_folder
from trustgen.errors import ModelFilesError
from trustgen.generate import fit_messages, generate, load_model, stream
from trustgen.prompting import SYSTEM_PROMPT, build_messages
from trustgen.types import Fact, ReplyRequest
from trustgen.writer import GroundedWriter, ModelGenerator, WriterConfig

FACT = Fact("item:6469567736", "product", "Water Bottle (capacity: 1000ml, material: glass, color: blue), "
            "item id 6469567736: $47.84, available", {"item_id": "6469567736", "price": 47.84, "available": True,
                                                       "name": "Water Bottle", "product_id": "8310926033",
                                                       "options": {"capacity": "1000ml", "material": "glass",
                                                                   "color": "blue"}})
REQUEST = ReplyRequest("How much is the blue glass water bottle?", (FACT,),
                       "The Water Bottle (1000ml, glass, blue) costs $47.84.")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a small shared CPU it is several times faster than contending for all cores."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def loaded():
    if not is_model_folder(base_model_path()):
        pytest.skip("the base model is not converted yet: run `shopbot setup`")
    return load_model(adapter_path=None)


@pytest.fixture(scope="session")
def greedy(loaded):
    return generate(loaded, build_messages(REQUEST), max_new_tokens=10, time_limit_s=300)


def test_greedy_generation_is_deterministic(loaded, greedy):
    again = generate(loaded, build_messages(REQUEST), max_new_tokens=10, time_limit_s=300)
    assert greedy.text and again.text == greedy.text
    assert greedy.stopped_by in ("length", "eos", "stop") and greedy.new_tokens <= 10


def test_stop_string_cuts_the_reply(loaded, greedy):
    words = greedy.text.split()
    assert len(words) >= 3, greedy.text
    stop = words[2]
    out = generate(loaded, build_messages(REQUEST), max_new_tokens=10, time_limit_s=300, stop=(stop,))
    assert out.stopped_by == "stop" and stop not in out.text
    assert greedy.text.startswith(out.text)


def test_time_limit_stops_generation(loaded):
    out = generate(loaded, build_messages(REQUEST), max_new_tokens=2000, time_limit_s=0.3)
    # the clock is read between tokens: the prompt's single forward pass cannot be interrupted
    assert out.stopped_by == "time" and out.new_tokens < 100


def test_stream_yields_the_same_text(loaded, greedy):
    assert "".join(stream(loaded, build_messages(REQUEST), max_new_tokens=10, time_limit_s=300)) == greedy.text


def test_empty_prompt_is_handled(loaded):
    assert generate(loaded, []).stopped_by == "empty"
    assert generate(loaded, [{"role": "user", "content": "  "}]).text == ""


def test_oversized_prompt_keeps_system_and_end_of_message(loaded):
    request = ReplyRequest("word " * 3000 + "What is the price?", (FACT,), "",
                           history=(("user", "old " * 2000), ("assistant", "older " * 500)))
    messages = build_messages(request)
    fitted, truncated = fit_messages(loaded.tokenizer, messages, 600)
    ids = loaded.tokenizer.apply_chat_template(fitted, tokenize=True, add_generation_prompt=True,
                                               return_dict=True)["input_ids"]
    assert truncated and len(ids) <= 600
    assert fitted[0] == messages[0] and SYSTEM_PROMPT in fitted[0]["content"] and "47.84" in fitted[0]["content"]
    assert fitted[-1]["content"].endswith("What is the price?")


def test_grounded_writer_with_the_real_model_streams_its_checked_write(loaded):
    config = WriterConfig(max_new_tokens=24, time_limit_s=300)
    writer = GroundedWriter(ModelGenerator(config, loaded), config)
    reply = writer.write(REQUEST)
    # greedy base model: "The blue glass water bottle is available for $47.84." -- checked and sent as written
    assert reply.used_model and not reply.fell_back and reply.unsupported == 0
    assert "$47.84" in reply.text and "item:6469567736" in reply.sources
    assert "".join(writer.stream(REQUEST)) == reply.text


def test_missing_model_folder_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(ModelFilesError) as err:
        load_model(tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "shopbot setup" in str(err.value)


def test_corrupt_weights_and_missing_adapter_are_reported(tmp_path):
    if not is_model_folder(base_model_path()):
        pytest.skip("the base model is not converted yet: run `shopbot setup`")
    broken = tmp_path / "broken"
    shutil.copytree(base_model_path(), broken, ignore=shutil.ignore_patterns("model.safetensors"))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFilesError) as err:
        load_model(broken, adapter_path=None)
    assert "model.safetensors" in str(err.value) and "shopbot setup" in str(err.value)
    with pytest.raises(ModelFilesError) as err:
        load_model(adapter_path=tmp_path / "no-adapter")
    assert "no-adapter" in str(err.value) and "shopbot train" in str(err.value)
    bad_adapter = tmp_path / "bad-adapter"
    bad_adapter.mkdir()
    (bad_adapter / "adapter_config.json").write_text("{not json")
    (bad_adapter / "adapter_model.safetensors").write_bytes(b"junk")
    with pytest.raises(ModelFilesError) as err:
        load_model(adapter_path=bad_adapter)
    assert "bad-adapter" in str(err.value) and "shopbot train" in str(err.value)


@pytest.mark.slow
def test_int8_model_generates_a_checked_reply():
    if not is_model_folder(base_model_path()):
        pytest.skip("the base model is not converted yet: run `shopbot setup`")
    loaded = load_model(adapter_path=None, quantize=True)
    assert loaded.quantized and loaded.name.endswith("-int8")
    config = WriterConfig(max_new_tokens=24, time_limit_s=300)
    reply = GroundedWriter(ModelGenerator(config, loaded), config).write(REQUEST)
    assert reply.text and reply.unsupported == 0
