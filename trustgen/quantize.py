"""int8 dynamic quantization of a model's linear layers for CPU inference.

Weights of every `nn.Linear` are stored as int8 with one scale per output channel; activations are quantized
on the fly. Embeddings and norms stay in float32, and so do a linear layer whose weight is tied to the embedding
(SmolLM2's output head, kept shared) and the MLP down projections (see KEEP_FLOAT). Merge a LoRA adapter before
quantizing. Measured against fp32 by bench/lm_bench.py.
"""
from __future__ import annotations


# Layers kept in float32. The MLP's down projection reads the gated activation, whose outliers one dynamic
# activation scale per row crushes: with it quantized, SmolLM2's validation perplexity on our data more than
# doubles; without it, int8 costs about a tenth (`bench/lm_bench.py --keep-float ""` shows the difference).
KEEP_FLOAT = ("down_proj",)


def linear_names(model, skip_tied: bool = True, keep_float: tuple[str, ...] = KEEP_FLOAT) -> set[str]:
    """Names of the linear layers to quantize: not one tied to an embedding, not one named in `keep_float`."""
    import torch
    embedding_weights = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    return {name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
            and not (skip_tied and id(m.weight) in embedding_weights)
            and not name.rsplit(".", 1)[-1] in keep_float}


def conv1d_to_linear(model) -> int:
    """Replace GPT-2's `Conv1D` layers (a linear layer with a transposed weight) by `nn.Linear`, in place.

    The quantizer only knows `nn.Linear`; the outputs are unchanged. Returns how many layers were replaced.
    """
    import torch
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover - transformers always has it today
        return 0
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Conv1D):
                n_in, n_out = child.weight.shape
                linear = torch.nn.Linear(n_in, n_out, bias=child.bias is not None)
                with torch.no_grad():
                    linear.weight.copy_(child.weight.t())
                    if child.bias is not None:
                        linear.bias.copy_(child.bias)
                setattr(parent, name, linear)
                replaced += 1
    return replaced


def quantize_int8(model, skip_tied: bool = True, keep_float: tuple[str, ...] = KEEP_FLOAT):
    """In-place int8 dynamic quantization of `model`'s linear layers (returned for chaining)."""
    import torch
    from torch.ao.quantization import quantize_dynamic
    conv1d_to_linear(model)
    names = linear_names(model, skip_tied, keep_float)
    if not names:
        return model
    from torch.ao.quantization import per_channel_dynamic_qconfig
    torch.backends.quantized.engine = _engine()
    # One scale per output row: a single scale per matrix cost SmolLM2 a threefold perplexity on our data.
    spec = {name: per_channel_dynamic_qconfig for name in names}
    return quantize_dynamic(model, qconfig_spec=spec, dtype=torch.qint8, inplace=True)


def _engine() -> str:
    import torch
    engines = torch.backends.quantized.supported_engines
    for name in ("x86", "fbgemm", "qnnpack", "onednn"):
        if name in engines:
            return name
    raise RuntimeError(f"no int8 quantization engine in this torch build (supported: {engines})")


def weight_bytes(model) -> dict:
    """Bytes of weights read per generated token: float parameters plus packed int8 linear weights.

    Every weight is read once per token in greedy decoding (batch 1), except the embedding table, of which only
    one row is read; when the output head is tied to it the full table is read once for the head.
    """
    import torch
    total, embedding = 0, 0
    seen = set()
    for module in model.modules():
        packed = getattr(module, "_packed_params", None)
        if packed is not None and hasattr(module, "weight"):
            w = module.weight()
            per_channel = w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
            total += w.numel() * w.element_size() + (w.q_per_channel_scales().numel() * 8 if per_channel else 8)
            continue
        for p in module.parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            size = p.numel() * p.element_size()
            total += size
            if isinstance(module, torch.nn.Embedding):
                embedding += size
    return {"weight_bytes": total, "embedding_bytes": embedding}
