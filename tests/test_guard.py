"""The correctness guard: a cached decode step must give the full forward's logits.
Passing transformers 4.x's `past_key_values` to a 5.x Mamba2 is silently ignored and
decodes from scratch; the guard must catch exactly that."""

import torch

from charsuite.measure import decode_matches_forward, prefill, random_tokens
from charsuite.models import build
from conftest import compose


def tiny(family):
    _, run = compose(f"+model={family}", "model.size=tiny")
    return build(run.model)


def test_guard_passes_for_correct_decoding():
    for family in ("mamba2", "qwen2_5", "falcon_h1"):
        assert decode_matches_forward(tiny(family), 512, torch.device("cpu")) < 1e-4


def test_guard_catches_the_old_cache_argument():
    model = tiny("mamba2")
    ids = random_tokens(512, 1, 49, seed=3, device=torch.device("cpu"))
    with torch.inference_mode():
        full = model(input_ids=ids, logits_to_keep=1).logits[:, -1]
        _, cache, _ = prefill(model, ids[:, :48])
        wrong = model(input_ids=ids[:, 48:], past_key_values=cache, use_cache=True,
                      cache_position=torch.tensor([48]), logits_to_keep=1).logits[:, -1]
    assert (full - wrong).abs().max() > 1e-2
