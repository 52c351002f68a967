"""Writes the HDF5 fixtures of keras_test.go with h5py (Debian python3-h5py).

The tests never need Python; run this only to regenerate:
    /usr/bin/python3 gen.py
Each file mimics what Keras 2 writes: root attributes keras_version,
backend and model_config (JSON), and a model_weights group. Nothing here
is a real payload: the Lambda's "bytecode" is base64 of b"not code".
"""
import json

import h5py
import numpy as np

DENSE = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4]}},
    {"class_name": "Dense", "config": {"name": "dense", "units": 2}}]}}
LAMBDA = {"class_name": "Functional", "config": {"layers": [
    {"class_name": "Dense", "config": {"name": "d"}},
    {"class_name": "Functional", "config": {"layers": [
        {"class_name": "Lambda", "config": {"name": "l", "function": ["bm90IGNvZGU=", None, None],
                                             "function_type": "lambda", "module": "__main__"}}]}}]}}


def write(name, config, libver="earliest", as_bytes=False, extra_attrs=0):
    with h5py.File(name, "w", libver=libver) as f:
        for i in range(extra_attrs):
            f.attrs["note_%02d" % i] = "x" * 10
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        text = json.dumps(config)
        f.attrs["model_config"] = np.bytes_(text.encode()) if as_bytes else text
        g = f.create_group("model_weights/dense/dense")
        g.create_dataset("kernel:0", data=np.ones((4, 2), dtype="float32"))


write("dense_v0.h5", DENSE)
write("lambda_v0.h5", LAMBDA)
write("dense_latest.h5", DENSE, libver="latest")
write("lambda_latest.h5", LAMBDA, libver="latest")
write("lambda_fixed_bytes.h5", LAMBDA, as_bytes=True)
write("lambda_dense_storage.h5", LAMBDA, libver="latest", extra_attrs=20)
with h5py.File("plain_data.h5", "w") as f:
    f.attrs["units"] = "m"
    f.create_dataset("x", data=np.arange(16, dtype="float32"))
