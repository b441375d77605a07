"""The correctness guard: a cached decode step must give the full forward's logits.
Passing transformers 4.x's `past_key_values` to a 5.x Mamba2 is silently ignored and
decodes from scratch; the guard itself must catch exactly that."""

import torch

from charsuite.engines.transformers import TransformersEngine
from charsuite.measure import decode_matches_forward
from helpers import compose

CPU = torch.device("cpu")


def engine(family, cls=TransformersEngine):
    return cls(compose(f"+model={family}", "model.size=tiny").model, CPU)


class OldCacheArgument(TransformersEngine):
    """transformers 4.x's spelling of the decode step: the cache goes in `past_key_values`."""

    @torch.inference_mode()
    def decode_step(self, token, cache, position):
        out = self.model(input_ids=token, past_key_values=cache, use_cache=True,
                         cache_position=torch.tensor([position]), logits_to_keep=1)
        return out.logits, cache


def test_guard_passes_for_correct_decoding():
    for family in ("mamba2", "qwen2_5", "falcon_h1"):
        assert decode_matches_forward(engine(family), CPU) < 1e-4


def test_guard_catches_the_old_cache_argument():
    assert decode_matches_forward(engine("mamba2", OldCacheArgument), CPU) > 1e-2


def test_recurrent_gemmas_cached_decode_matches_a_full_forward():
    # transformers 5.25 counts RecurrentGemma's positions from cache.get_seq_length(), which reads a recurrent
    # layer (always 0): a decode step ran at position 0, reset its recurrence, and the guard failed in CI's
    # 2026-family sweep; the engine passes explicit position ids for it
    engine = TransformersEngine(compose("+model=recurrent_gemma", "model.size=tiny").model, torch.device("cpu"))
    assert decode_matches_forward(engine, torch.device("cpu"), length=20) < 1e-4
