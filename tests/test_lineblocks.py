import gzip
import hashlib
import time

import pytest

from censorlab.core.checksums import file_sha256
from censorlab.errors import RawFileError
from censorlab.reading import lineblocks


def _lines(n: int) -> list[bytes]:
    return [b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 97)) for i in range(n)]


@pytest.fixture(params=["plain", "gzip"])
def raw_file(request, tmp_path):
    lines = _lines(3000)
    lines[1234] = b'{"long": "' + b"y" * 20_000 + b'"}'  # longer than a block
    data = b"\n".join(lines) + b"\n" + b'{"last": "no newline"}'
    path = tmp_path / ("x.jsonl.gz" if request.param == "gzip" else "x.jsonl")
    path.write_bytes(gzip.compress(data) if request.param == "gzip" else data)
    return path, data


@pytest.mark.parametrize("pooled", [False, True])
def test_blocks_are_whole_lines_with_their_newlines_and_numbers(raw_file, pooled):
    path, data = raw_file
    buffers = lineblocks.BlockBuffers(4096) if pooled else None
    digest = hashlib.sha256()
    seen, expected_first = [], 1
    for first, block, newline, offsets in lineblocks.iter_indexed_blocks(path, 4096, digest,
                                                                          buffers):
        block = bytes(block)  # a pooled block is reused once given back
        assert first == expected_first
        assert list(offsets) == [i for i, byte in enumerate(block) if byte == 10]
        assert newline == block.endswith(b"\n")
        expected_first += len(offsets)
        seen.append(block)
        if buffers is not None:
            buffers.give(block)  # a bytes copy: ignored, the pool only takes its own views
    assert b"".join(seen) == data
    assert expected_first == data.count(b"\n") + 1  # the last line has no newline
    assert "sha256:" + digest.hexdigest() == file_sha256(path)


def test_pooled_buffers_are_reused_only_when_given_back(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(_lines(5000)) + b"\n")
    buffers = lineblocks.BlockBuffers(4096)
    owners = []
    for _, block, _, _ in lineblocks.iter_indexed_blocks(path, 4096, None, buffers):
        owners.append(id(block.obj))
        buffers.give(block)
    assert len(set(owners)) == 1  # each block's buffer came back before the next was read


def test_cut_gzip_is_a_raw_file_error(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(_lines(20000)))[:5000])
    with pytest.raises(RawFileError, match="truncated or corrupt"):
        list(lineblocks.iter_blocks(path, 4096))


def test_map_in_order_keeps_order_and_raises_the_first_error():
    def slow_square(x):
        time.sleep(0.01 * (x % 3))
        return x * x

    assert list(lineblocks.map_in_order(slow_square, range(20), threads=3)) == [
        x * x for x in range(20)]
    assert list(lineblocks.map_in_order(slow_square, range(5), threads=1)) == [0, 1, 4, 9, 16]

    def boom(x):
        if x == 7:
            raise ValueError("seven")
        return x

    with pytest.raises(ValueError, match="seven"):
        list(lineblocks.map_in_order(boom, range(20), threads=2))


def test_batched():
    assert list(lineblocks.batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(lineblocks.batched([], 3)) == []
