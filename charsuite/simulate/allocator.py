"""The CUDA caching allocator's arithmetic, replayed on a dry-run's allocation events, so a
prediction can say both what the tensors need (allocated) and what the allocator holds
from the driver (reserved), which is what runs out first.

Constants and rules from PyTorch's c10/cuda/CUDACachingAllocator.cpp (the `round_size`,
`get_allocation_size` and `should_split` functions and the k* constants at its top):
sizes round up to 512 bytes; requests of at most 1 MiB come from the small pool, carved out
of 2 MiB segments; larger ones from the large pool, in 20 MiB segments below 10 MiB and
otherwise rounded up to 2 MiB; a free block is reused best-fit within its pool and split
when the rest is at least 512 bytes (small) or more than 1 MiB (large); neighbours merge
when freed. With `expandable_segments:True` (the GPU profiles set it) each pool is one
segment that grows by 2 MiB pages instead. Not modelled: several streams, the
`max_split_size_mb` and `roundup_power2_divisions` options, and `empty_cache` calls.

What must fit (`needed`) is less than what it holds (`reserved`): when the driver refuses a new segment, the
allocator frees its cached blocks and tries again (`release_cached_blocks` in its malloc path): whole free
segments go back; in an expandable segment, the pages of free blocks are unmapped (`unmap_block`). So a run
out of memory is one whose live blocks - the segments (or, expandable, the 2 MiB pages) they touch - pass
the device at some moment, not one whose cache of freed blocks would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_BLOCK = 512
SMALL_SIZE = 1 << 20
SMALL_BUFFER = 2 << 20
LARGE_BUFFER = 20 << 20
MIN_LARGE_ALLOC = 10 << 20
ROUND_LARGE = 2 << 20
PAGE = 2 << 20


def round_size(n: int) -> int:
    return MIN_BLOCK if n < MIN_BLOCK else -(-n // MIN_BLOCK) * MIN_BLOCK


def segment_size(n: int) -> int:
    if n <= SMALL_SIZE:
        return SMALL_BUFFER
    if n < MIN_LARGE_ALLOC:
        return LARGE_BUFFER
    return -(-n // ROUND_LARGE) * ROUND_LARGE


class _Block:
    __slots__ = ("seg", "start", "size", "free")

    def __init__(self, seg: int, start: int, size: int, free: bool):
        self.seg, self.start, self.size, self.free = seg, start, size, free


class _Pool:
    def __init__(self, small: bool, expandable: bool):
        self.small, self.expandable = small, expandable
        self.segments: list[list[_Block]] = []
        self.reserved = 0

    def _split(self, seg: list[_Block], i: int, size: int) -> _Block:
        b = seg[i]
        rest = b.size - size
        if rest >= MIN_BLOCK if self.small else rest > SMALL_SIZE:
            seg.insert(i + 1, _Block(b.seg, b.start + size, rest, True))
            b.size = size
        b.free = False
        return b

    def alloc(self, size: int) -> _Block:
        best: tuple[int, int] | None = None
        for s, seg in enumerate(self.segments):
            for i, b in enumerate(seg):
                if b.free and b.size >= size and (best is None or b.size < self.segments[best[0]][best[1]].size):
                    best = (s, i)
        if best is not None:
            return self._split(self.segments[best[0]], best[1], size)
        if self.expandable:
            if not self.segments:
                self.segments.append([])
            seg = self.segments[0]
            end = seg[-1].start + seg[-1].size if seg else 0
            if seg and seg[-1].free:  # grow the free tail
                seg[-1].size = size
                end = seg[-1].start + size
            else:
                seg.append(_Block(0, end, size, False))
                end += size
            mapped = -(-end // PAGE) * PAGE
            self.reserved = max(self.reserved, mapped)
            b = seg[-1]
            b.free = False
            return b
        seg_bytes = segment_size(size)
        self.segments.append([_Block(len(self.segments), 0, seg_bytes, True)])
        self.reserved += seg_bytes
        return self._split(self.segments[-1], 0, size)

    def in_use(self) -> int:
        """Bytes the pool cannot give back: segments holding a live block; expandable, the pages live blocks touch."""
        if not self.expandable:
            return sum(seg[-1].start + seg[-1].size for seg in self.segments if any(not b.free for b in seg))
        pages, last = 0, -1  # blocks lie in address order: count each page once
        for seg in self.segments:
            for b in seg:
                if not b.free:
                    first, end = max(b.start // PAGE, last + 1), -(-(b.start + b.size) // PAGE) - 1
                    if end >= first:
                        pages += end - first + 1
                    last = max(last, end)
        return pages * PAGE

    def free(self, block: _Block) -> None:
        seg = self.segments[block.seg]
        i = seg.index(block)
        block.free = True
        if i + 1 < len(seg) and seg[i + 1].free:
            block.size += seg.pop(i + 1).size
        if i > 0 and seg[i - 1].free:
            seg[i - 1].size += block.size
            seg.pop(i)


@dataclass(frozen=True)
class AllocatorPeaks:
    requested: int   # the tensors' own bytes at their peak
    allocated: int   # after rounding to the allocator's block sizes (torch.cuda.max_memory_allocated)
    reserved: int    # segments held from the driver (torch.cuda.max_memory_reserved)
    needed: int = 0  # what must fit: the most that live blocks hold at any moment (module docstring)


def replay(events: Iterable[tuple[int, int]], expandable: bool = True, base_allocated: int = 0) -> AllocatorPeaks:
    """Peaks of a stream of (+bytes | -bytes, tag) events; `base_allocated` are blocks that
    were there before (weights), allocated first, one block per tensor rounded in bulk."""
    pools = {True: _Pool(True, expandable), False: _Pool(False, expandable)}
    blocks: dict[int, _Block] = {}
    small_of: dict[int, bool] = {}
    requested = peak_requested = 0
    allocated = peak_allocated = needed = 0
    if base_allocated:
        pools[False].alloc(round_size(base_allocated))
        allocated = peak_allocated = round_size(base_allocated)
    for nbytes, tag in events:
        if nbytes > 0:
            size = round_size(nbytes)
            small = size <= SMALL_SIZE
            blocks[tag], small_of[tag] = pools[small].alloc(size), small
            requested += nbytes
            allocated += blocks[tag].size  # an unsplit block counts whole, as in the allocator's stats
            peak_requested, peak_allocated = max(peak_requested, requested), max(peak_allocated, allocated)
            needed = max(needed, sum(p.in_use() for p in pools.values()))
        elif nbytes < 0 and tag in blocks:
            block = blocks.pop(tag)
            allocated -= block.size
            requested += nbytes
            pools[small_of.pop(tag)].free(block)
        elif nbytes < 0:
            requested += nbytes
    return AllocatorPeaks(peak_requested, peak_allocated, sum(p.reserved for p in pools.values()), needed)
