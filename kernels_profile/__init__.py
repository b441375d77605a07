"""Operator profiling: capture torch.profiler traces, classify kernels by a taxonomy, attribute time."""
