"""charsuite: long-context characterization of SSM, hybrid and Transformer language models."""

__version__ = "0.1.0"
