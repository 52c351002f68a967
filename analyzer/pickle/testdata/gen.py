# Regenerates the CPython-written fixtures in this directory:
#   python3 gen.py
# They pin the VM against what the real pickler emits for every protocol.
# Only standard-library types are used, so any CPython 3 can run it.
import argparse, collections, datetime, decimal, fractions, pathlib, pickle, uuid

class _Plain:
    pass

data = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**40, -2**70, 10**30],
    "floats": [0.0, -1.5, float("inf"), 1e300],
    "strs": ["", "a", "x" * 300, "ünïcødé", "\n\t\\'\""],
    "bytes": [b"", b"\x00\xff", b"y" * 300, bytearray(b"ba")],
    "containers": (set([1, 2]), frozenset(["f"]), (), (1,), (1, 2), (1, 2, 3), [[], {}], {"k": ("v",)}),
    "bools": [True, False, None],
    "od": collections.OrderedDict(a=1, b=[1, 2]),
    "dd": collections.defaultdict(list, {"x": [1]}),
    "deque": collections.deque([1, 2]),
    "counter": collections.Counter("aab"),
    "dt": datetime.datetime(2024, 5, 6, 7, 8, 9, 10),
    "date": datetime.date(2024, 1, 2),
    "td": datetime.timedelta(days=3, seconds=4),
    "dec": decimal.Decimal("3.14159"),
    "frac": fractions.Fraction(1, 3),
    "path": pathlib.PurePosixPath("/models/x.pt"),
    "ns": argparse.Namespace(lr=0.001, epochs=3, name="run"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "complex": complex(1, 2),
    "slice": slice(1, 10, 2),
    "range": range(3),
}
shared = ["shared"]
data["alias1"] = shared
data["alias2"] = shared  # memo reuse

for proto in range(0, 6):
    with open("benign_proto%d.pkl" % proto, "wb") as f:
        pickle.dump(data, f, protocol=proto)

# Two streams back to back, as pickle.dump twice on one file.
with open("benign_two_streams.pkl", "wb") as f:
    pickle.dump({"a": 1}, f, protocol=2)
    pickle.dump([1, 2, 3], f, protocol=4)
