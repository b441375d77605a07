"""charsuite: long-context characterization of SSM, hybrid and Transformer language models."""

from omegaconf import OmegaConf

__version__ = "0.1.0"

# "_key=value" when a batch sweeps keys beyond model and device, "" otherwise (run folder names).
if not OmegaConf.has_resolver("cs_suffix"):
    OmegaConf.register_new_resolver("cs_suffix", lambda s: f"_{s}" if s else "")


def _execution_suffix(mode: str, chunk) -> str:
    """"_compile", "_chunk4096", ...: runs in other execution modes get folders of their own."""
    return (f"_{mode}" if mode and mode != "eager" else "") + (f"_chunk{chunk}" if chunk not in (None, "None") else "")


if not OmegaConf.has_resolver("cs_exec"):
    OmegaConf.register_new_resolver("cs_exec", _execution_suffix)


if not OmegaConf.has_resolver("cs_engine"):  # "_llamacpp_q8_0": another engine's runs get folders of their own
    from charsuite.engines import folder_suffix

    OmegaConf.register_new_resolver("cs_engine", folder_suffix)
