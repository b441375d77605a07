"""The analytic memory model: bytes of weights, KV cache, SSM state, logits and peak
prefill activations for any zoo model, dtype and context, and from them the largest
context a device can hold. No model is run and nothing here imports torch: shapes come
from a ModelFacts (the layout and sizes read off the config once, analysis/facts.py,
and written to run.json), so the read side predicts from run.json alone.

Conventions measured on transformers 5.x (and checked by tests against real caches):
recurrent SSM states are kept in float32 whatever the model dtype, conv states in the
model dtype; Mamba, Mamba-2 and Nemotron-H upcast their logits to float32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from charsuite.analysis.architectures import Layout
from charsuite.analysis.mixer_memory import mixer_bytes
from charsuite.narrowing import narrow
from charsuite.run_records import RunRecord

BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
LOGITS_FP32 = ("mamba", "mamba2", "nemotron_h", "falcon_mamba", "xlstm")
LOGITS_EVERY_POSITION = ("xlstm",)  # its head takes no logits_to_keep: float32 logits of every position
SOFT_CAPPED = ("recurrent_gemma",)  # tanh(logits / cap) * cap: two more logits-sized tensors on the way
RECURRENT_STATE_BYTES = 4


@dataclass(frozen=True)
class Prediction:
    context: int
    weights: int
    kv_cache: int
    ssm_state: int
    logits: int
    activations: int
    logits_stage: int = 0   # live while the logits are made: the logits and any copy made on the way
    kv_at_peak: int | None = None  # KV cache already written when the activations peak (None: all of it)

    @property
    def total(self) -> int:
        """The logits are made after the last layer's activations are gone: the peak holds
        the larger of the two stages, never both; and an SSM layer that peaks before the
        later attention layers has run holds only their predecessors' cache."""
        kv_at = self.kv_cache if self.kv_at_peak is None else self.kv_at_peak
        return self.weights + self.ssm_state + max(self.kv_cache + max(self.logits, self.logits_stage),
                                                   kv_at + self.activations)

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def kv_cache_bytes(lay: Layout, context: int, batch: int, elem: int) -> int:
    """attention layers x 2 (K and V) x KV heads x head dim x context x bytes (a sliding-window
    cache keeps its window at most)."""
    kept = context if lay.kv_window is None else min(context, lay.kv_window)
    return lay.attention_layers * 2 * lay.kv_heads * lay.head_dim * kept * batch * elem


def ssm_state_bytes(lay: Layout, batch: int, elem: int) -> int:
    """Per SSM layer: conv state (conv channels x d_conv, model dtype) + recurrent state
    (d_inner x d_state, float32). Constant in context."""
    if not lay.ssm_layers:
        return 0
    if lay.ssm_kind == "mlstm":  # per head: the matrix memory C (qk x v), normaliser n (qk), stabiliser m; model dtype
        return lay.ssm_layers * (lay.d_inner * lay.d_state + lay.ssm_heads * (lay.d_state + 1)) * elem * batch
    grouped = lay.ssm_kind in ("mamba2", "gated_deltanet")  # B and C (or keys and queries) convolved too
    conv_channels = lay.d_inner + (2 * lay.ssm_groups * lay.d_state if grouped else 0)
    conv = conv_channels * lay.d_conv * elem
    recurrent = lay.d_inner * lay.d_state * RECURRENT_STATE_BYTES  # short convolutions: d_state 0
    return lay.ssm_layers * (conv + recurrent) * batch


def logits_stage_bytes(model_type: str, lay: Layout, context: int, batch: int, elem: int, mode: str) -> int:
    """The logits plus the copy their head makes on the way: the model-dtype output that
    Mamba, Mamba-2 and Nemotron-H upcast (`.float()`, a copy unless already float32), and
    Falcon-H1's `* lm_head_multiplier`."""
    final = logits_bytes(model_type, lay, context, batch, elem, mode)
    positions = context if mode == "all" else 1
    if model_type in LOGITS_EVERY_POSITION:  # the head's output and its float32 copy, or the soft cap's two
        per = batch * lay.vocab                # temporaries (per slice of mixer_tokens past that many tokens)
        capped = min(context, lay.mixer_tokens or context)
        return max(final + (per * context * elem if elem != 4 else 0), final + 2 * per * capped * 4)
    if model_type in SOFT_CAPPED:
        return 3 * final
    copy = (model_type in LOGITS_FP32 and elem != 4) or model_type == "falcon_h1"
    return final + (batch * positions * lay.vocab * elem if copy else 0)


def logits_bytes(model_type: str, lay: Layout, context: int, batch: int, elem: int, mode: str) -> int:
    positions = context if mode == "all" or model_type in LOGITS_EVERY_POSITION else 1
    return batch * positions * lay.vocab * (4 if model_type in LOGITS_FP32 else elem)


def activation_bytes(lay: Layout, context: int, batch: int, elem: int, eager_attention: bool = False,
                     impl: str = "reference", parts: bool = False):
    """Peak transient tensors of one prefill layer (the largest layer wins), per token:
    attention: q, k, v, the rotary temporaries (about five query-sized tensors) and the
    output; eager attention adds heads x L x L matrices (float32 scores and masked
    scores, the probabilities in the model dtype) and the L x L mask: quadratic; MLP:
    gate activation, up and their product
    (Zamba2's shared block adds its per-layer LoRA adapters to a fused 2 x intermediate
    gate_up: three such tensors);
    Mamba-1 mixer (reference selective scan): in_proj (2 x d_inner), five more d_inner
    tensors in the model dtype (conv output, dt projection, D and gate products, the
    loop's list of outputs), x_proj's output, two float32 d_inner (dt and its softplus)
    and three float32 d_inner x d_state tensors per token (exp(dt*A), dt*B, dt*B*u, all
    alive through the loop);
    Mamba-2 mixer (transformers' chunked reference scan): in_proj and conv
    outputs, and in float32 the per-head x*dt and D residual, B and C repeated to every
    head; at the peak, while the chunk states are formed, seven d_inner, three heads x
    d_state and three heads x chunk float32 tensors (the decay mask L, G = C.B and M = G*L
    among them) and the states (read off dry-run traces of 780M, 0.5B and tiny configs). Two
    residual-stream copies are live throughout.
    With impl=kernels the SSM mixers allocate only what the fused kernels' wrappers do
    (simulate/kernels.py cites them). Mamba-2: in_proj and conv outputs and the scan's
    output, then the larger of two stages: the scan's workspace (dt and its cumulative
    sum per head, C.B per chunk, and the chunk states: d_inner x d_state per chunk, in
    float32 and again in C's dtype) or, where the mixer has one, the gated norm's three
    float32 d_inner tensors. Mamba-1: in_proj (2 x d_inner), six d_inner tensors (conv
    output, dt, the gate's and inputs' contiguous copies, the scan output and its gated
    copy) and x_proj's output (dt rank + 2 x d_state).
    """
    h = lay.hidden
    per_token = lay.hidden_copies * h * elem
    attn = (5 * lay.q_heads * lay.head_dim + 4 * lay.kv_heads * lay.head_dim + h) * elem if lay.attention_layers else 0
    mlp = lay.mlp_tensors * lay.intermediate * elem if lay.mlp_layers else 0
    if lay.moe_top_k:  # grouped experts: per routed copy of a token, gate_up (2I), its activation and product, and h
        mlp = lay.moe_top_k * (4 * lay.intermediate + h) * elem
    ssm = 0
    if lay.ssm_kind == "mamba2":
        proj = 2 * lay.d_inner + 2 * lay.ssm_groups * lay.d_state + lay.ssm_heads
        hn, hc = lay.ssm_heads * lay.d_state, lay.ssm_heads * lay.chunk
        # the chunk states being formed: seven d_inner, three heads x d_state and three heads x chunk tensors
        # and the states themselves (d_inner x d_state per chunk), all float32
        states = 7 * lay.d_inner + 3 * hn + 3 * hc + lay.d_inner * lay.d_state // lay.chunk
        ssm = (proj + lay.d_inner + 2 * lay.ssm_groups * lay.d_state) * elem + states * 4
    if impl == "kernels" and lay.ssm_kind == "mamba2":
        gn = 2 * lay.ssm_groups * lay.d_state
        kept = (2 * lay.d_inner + gn + lay.ssm_heads + lay.d_inner + gn) * elem   # in_proj and conv outputs
        states = lay.d_inner * lay.d_state // lay.chunk                           # chunk states per token
        dt = 2 * lay.ssm_heads * 4
        passing = dt + states * (4 + elem)                        # float32 states, then passed in C's dtype
        scanning = dt + states * elem + lay.ssm_groups * lay.chunk * 4 + lay.d_inner * elem  # C.B and the output
        norm = lay.d_inner * elem + (3 * lay.d_inner * 4 if lay.gated_norm else 0)
        ssm = kept + max(passing, scanning, norm)
    elif impl == "kernels" and lay.ssm_kind == "mamba1":
        rank = -(-lay.hidden // 16)
        ssm = (8 * lay.d_inner + rank + 4 * lay.d_state) * elem  # x_proj's output, and B and C copied
    elif lay.ssm_kind == "mamba1":
        rank = -(-lay.hidden // 16)
        ssm = (7 * lay.d_inner + rank + 2 * lay.d_state) * elem + (3 * lay.d_inner * lay.d_state + 2 * lay.d_inner) * 4
    elif lay.ssm_kind != "mamba2":
        ssm = mixer_bytes(lay, elem)  # the 2026 mixers (mixer_memory.py)
    quadratic = 0
    if eager_attention and lay.attention_layers:  # float32 scores and masked scores, probabilities in the model dtype
        quadratic = (lay.q_heads * (8 + elem) + elem) * context * context * batch  # + the L x L causal mask
    masking = mask = 0
    if lay.kv_window is not None and lay.attention_layers and context > lay.kv_window:
        # past its window a local-attention model builds a boolean L x L mask (three at once while it is made,
        # before the first layer, beside the embeddings), and keeps one through every layer
        mask = context * context * batch
        masking = 3 * mask + h * elem * context * batch
    other = max((per_token + max(attn, mlp)) * context * batch + quadratic + mask, masking)
    mixed = min(context, lay.mixer_tokens or context)
    mixer = (per_token * context + ssm * mixed) * batch + mask if ssm else 0
    return (other, mixer) if parts else max(other, mixer)


@dataclass(frozen=True)
class ModelFacts:
    """What the memory model needs to know of one model size in one dtype."""

    model_type: str
    layout: Layout
    params: int
    buffer_bytes: int          # buffers as built in the dtype (rotary tables, masks)
    dtype: str
    eager_attention: bool = False
    tie_word_embeddings: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ModelFacts | None:
        if not d:
            return None
        return cls(**{**d, "layout": Layout(**d["layout"])})


def predict(facts: ModelFacts, context: int, batch: int = 1, logits: str = "last",
            impl: str = "reference") -> Prediction:
    """Weights are parameters x dtype bytes plus the model's buffers."""
    lay, elem = facts.layout, BYTES[facts.dtype]
    kv = kv_cache_bytes(lay, context, batch, elem)
    other, mixer = activation_bytes(lay, context, batch, elem, facts.eager_attention, impl, parts=True)
    kv_at = None
    if mixer > other and lay.attention_before_last_ssm is not None and lay.attention_layers:
        kv_at = kv * lay.attention_before_last_ssm // lay.attention_layers
    return Prediction(
        context=context,
        weights=facts.params * elem + facts.buffer_bytes,
        kv_cache=kv,
        ssm_state=ssm_state_bytes(lay, batch, elem),
        logits=logits_bytes(facts.model_type, lay, context, batch, elem, logits),
        activations=max(other, mixer),
        logits_stage=logits_stage_bytes(facts.model_type, lay, context, batch, elem, logits),
        kv_at_peak=kv_at,
    )


def max_context(facts: ModelFacts, limit_bytes: int, batch: int = 1, logits: str = "last",
                runtime_bytes: int = 0, upper: int = 1 << 24, impl: str = "reference") -> int | None:
    """Largest context whose predicted total (plus a runtime baseline) fits the limit."""

    def fits(n: int) -> bool:
        return predict(facts, n, batch, logits, impl).total + runtime_bytes <= limit_bytes

    if not fits(1):
        return None
    if fits(upper):
        return upper
    return narrow(1, upper, fits)[0]


def predicted_max_for_run(run: RunRecord | None, limit_bytes: int | None, runtime_bytes: int = 0) -> int | None:
    """Predicted largest context for a run (its run.json's record: `model_facts` and `config`) and
    memory limit, less the worker's measured runtime baseline (interpreter, libraries,
    CUDA context)."""
    if run is None or not limit_bytes or limit_bytes != limit_bytes:  # NaN from a table
        return None
    facts = ModelFacts.from_dict(run.model_facts)
    if facts is None:
        return None
    w = run.section("workload")
    return max_context(facts, int(limit_bytes), w.get("batch", 1), w.get("logits", "last"), runtime_bytes=runtime_bytes)


def runtime_baseline(points) -> int:
    """The smallest `mem.runtime` among a run's measured points (bytes; 0 if none)."""
    vals = [m.get("runtime") for m in points if isinstance(m, dict) and m.get("runtime") is not None]
    return int(min(vals)) if vals else 0
