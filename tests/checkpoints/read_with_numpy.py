#!/usr/bin/env python3
"""Reads a cohort checkpoint the way a NumPy user would, without cohort: the safetensors layout
(8-byte little-endian header length, JSON header, raw little-endian data). Checks the format
metadata, every tensor's dtype, shape and offsets, and that the dense weights can be used as a
NumPy array (a forward pass of the first layer on zeros gives its bias).

usage: read_with_numpy.py CHECKPOINT EXPECTED_FIRST_WEIGHT_SHAPE(e.g. 784,64)"""
import json
import struct
import sys

import numpy as np


def main():
    path, expected = sys.argv[1], tuple(int(x) for x in sys.argv[2].split(","))
    blob = open(path, "rb").read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    data = blob[8 + length:]
    metadata = header.pop("__metadata__")
    assert metadata["format"] == "cohort-checkpoint", metadata["format"]
    assert int(metadata["format_version"]) >= 1
    dtypes = {"F32": np.float32, "F64": np.float64}
    tensors = {}
    end = 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, stop = entry["data_offsets"]
        assert begin == end, f"{name}: not contiguous"
        end = stop
        array = np.frombuffer(data[begin:stop], dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
        assert np.all(np.isfinite(array)), name
        tensors[name] = array
    assert end == len(data), "bytes after the last tensor"
    weight, bias = tensors["layers.0.weight"], tensors["layers.0.bias"]
    assert weight.shape == expected, (weight.shape, expected)
    x = np.zeros((1, weight.shape[0]), dtype=weight.dtype)
    assert np.array_equal(x @ weight + bias, bias[None, :])
    state = json.loads(metadata["state"])
    print(f"{path}: {len(tensors)} tensors, epoch {state['epoch']}, iteration {state['iteration']}, "
          f"first weight {weight.shape}, |w| = {float(np.abs(weight).mean()):.4g}")


if __name__ == "__main__":
    main()
