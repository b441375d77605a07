"""A simulated device: the real transformers forward run on fake tensors (no memory, no
arithmetic), every allocation and free tracked, so a memory peak comes from the code path
itself. tracker.py counts live bytes, allocator.py rounds them the way the CUDA caching
allocator would, kernels.py swaps in fakes of the fused kernels, folds.py shortens the one
reference loop that is O(L) in Python, dryrun.py puts them together."""
