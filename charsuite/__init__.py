"""charsuite: long-context characterization of SSM, hybrid and Transformer language models."""

from omegaconf import OmegaConf

__version__ = "0.1.0"

# "_key=value" when a batch sweeps keys beyond model and device, "" otherwise (run folder names).
if not OmegaConf.has_resolver("cs_suffix"):
    OmegaConf.register_new_resolver("cs_suffix", lambda s: f"_{s}" if s else "")
