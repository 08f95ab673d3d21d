#!/usr/bin/python3
"""Independent safetensors reader (standard library + numpy) checking a file written by Muse's writer.

Usage: safetensors_interop.py FILE
FILE is written by the Safetensors.WritesTheInteropFixture test (to $TMPDIR or /tmp,
named muse_safetensors_interop.safetensors); its contents are hard-coded in EXPECTED below.
"""
import json
import struct
import sys

import numpy as np

# name -> (dtype, shape, values), in the order the writer was given them.
EXPECTED = {
    "weight": ("F32", [2, 3], [[-1.0, -0.5, 0.0], [0.5, 1.0, 1.5]]),
    "bias": ("F16", [3], [1.0, -2.0, 0.5]),
    "scale": ("BF16", [2], [1.5, -3.0]),
    "step": ("I64", [], 42),
    "ids": ("I32", [4], [-1, 0, 1, 2**31 - 1]),
    "mask": ("U8", [3], [0, 1, 255]),
    "empty": ("F32", [0, 4], np.zeros((0, 4))),
}
EXPECTED_METADATA = {"format": "pt", "producer": "muse"}
NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def check(condition, message):
    if not condition:
        sys.exit("FAIL: " + message)


def decode(dtype, shape, raw):
    if dtype == "BF16":  # numpy has no bfloat16: it is the top half of a float32
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype]).reshape(shape)


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (header_size,) = struct.unpack("<Q", blob[:8])
    check((8 + header_size) % 8 == 0, "data buffer is not 8-byte aligned")
    header = json.loads(blob[8 : 8 + header_size].decode("utf-8"))
    data = blob[8 + header_size :]

    check(header.pop("__metadata__", None) == EXPECTED_METADATA, "metadata differs")
    by_offset = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    check([name for name, _ in by_offset] == list(EXPECTED), f"names/order differ: {list(header)}")

    end = 0
    for name, info in by_offset:
        begin, stop = info["data_offsets"]
        check(begin == end, f"{name}: offsets not contiguous")
        end = stop
        dtype, shape, values = EXPECTED[name]
        check(info["dtype"] == dtype and info["shape"] == shape, f"{name}: got {info['dtype']} {info['shape']}")
        actual = decode(dtype, shape, data[begin:stop])
        check(np.array_equal(actual, np.asarray(values)), f"{name}: values {actual.tolist()}")
    check(end == len(data), "data buffer has trailing bytes")
    print(f"OK: {len(by_offset)} tensors and metadata match in {path}")


if __name__ == "__main__":
    main(sys.argv[1])
