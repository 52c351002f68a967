"""numpy, joblib, scipy, onnx and h5py sections: .npy/.npz of every dtype
(object arrays of plain data included), pickled numpy objects under
protocols 0 to 5, joblib with every compressor, pickled scipy objects,
ONNX models and HDF5 files."""

import collections
import datetime
import decimal
import fractions
import io
import pickle
import warnings

import joblib
import numpy as np

warnings.filterwarnings("ignore")


def dump(obj, proto):
    def w(p):
        with open(p, "wb") as f:
            pickle.dump(obj, f, protocol=proto)
    return w


def object_arrays():
    rng = np.random.RandomState(1)
    a = {}
    a["lists"] = np.array([[1, 2], [3], [], [4, 5, 6]], dtype=object)
    a["strings"] = np.array(["alpha", "β", "", "x" * 300], dtype=object)
    a["mixed"] = np.array([1, 2.5, "three", None, True, b"bytes", 3 + 4j, (1, 2), {"k": [1]}], dtype=object)
    a["nested-arrays"] = np.empty(3, dtype=object)
    a["nested-arrays"][:] = [np.arange(3), np.ones((2, 2)), np.array(["a", "b"])]
    a["dicts-2d"] = np.array([[{"a": 1}, {"b": [2, 3]}], [{}, {"c": {"d": None}}]], dtype=object)
    a["scalar-0d"] = np.array({"config": {"lr": 0.1, "layers": [4, 8]}}, dtype=object)
    a["empty"] = np.empty((0, 3), dtype=object)
    a["fortran"] = np.asfortranarray(np.array([[1, "a"], [2.0, None]], dtype=object))
    a["stdlib-values"] = np.array([decimal.Decimal("1.5"), fractions.Fraction(1, 3), datetime.date(2020, 2, 29),
                                   collections.OrderedDict(a=1), set([1, 2]), frozenset(["x"]), range(3)], dtype=object)
    a["numpy-scalars"] = np.array([np.float32(1.5), np.int8(-3), np.datetime64("2020-01-01"), np.str_("s"), np.bool_(True)], dtype=object)
    a["big-ints"] = np.array([2 ** 70, -(2 ** 100), 0], dtype=object)
    a["structured-with-object"] = np.array([(1, "a", [1, 2]), (2, "b", None)], dtype=[("id", "<i4"), ("name", "O"), ("payload", "O")])
    a["many-strings"] = np.array(["item-%d" % i for i in range(500)], dtype=object)
    a["random-floats-as-objects"] = rng.normal(size=20).astype(object)
    return a


def plain_arrays():
    rng = np.random.RandomState(2)
    a = {}
    for dt in ("bool", "i1", "<i2", ">i4", "<i8", "u1", "<u2", "<u4", ">u8", "<f2", "<f4", ">f8", "<f16", "<c8", ">c16", "<c32",
               "<M8[ns]", "<M8[D]", "<m8[s]", "<U7", "S5", "V4"):
        if dt.startswith("<M8") or dt.startswith("<m8"):
            v = np.arange(6).astype(dt)
        elif dt in ("<U7", "S5"):
            v = np.array(["ab", "cde", "", "fghij"], dtype=dt)
        elif dt == "V4":
            v = np.zeros(3, dtype=dt)
        else:
            v = (rng.normal(size=(2, 3)) * 10).astype(dt)
        a["dtype-" + dt.replace("<", "le-").replace(">", "be-").replace("[", "-").replace("]", "")] = v
    a["structured"] = np.array([(1, 2.0, b"ab"), (3, 4.5, b"c")], dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S2")])
    a["structured-nested"] = np.zeros(2, dtype=[("pos", [("x", "<f4"), ("y", "<f4")]), ("tag", "<U3"), ("m", "<i2", (2, 2))])
    a["structured-aligned"] = np.zeros(2, dtype=np.dtype([("a", "u1"), ("b", "<i8")], align=True))
    a["scalar-0d"] = np.array(3.25)
    a["empty"] = np.empty((0,), dtype="<f4")
    a["empty-2d"] = np.empty((3, 0), dtype="<i8")
    a["fortran"] = np.asfortranarray(rng.rand(3, 4))
    a["5d"] = rng.rand(2, 1, 2, 1, 3).astype("<f4")
    a["large-1d"] = np.arange(100000, dtype="<i4")
    a["unicode-long"] = np.array(["\u00e9t\u00e9", "\U0001F600"], dtype="<U20")
    a["structured-unicode-names"] = np.zeros(2, dtype=[("\u00e9t\u00e9", "<f4"), ("\u540d", "<i2")])  # needs header version 3.0
    a["structured-titles"] = np.zeros(2, dtype=[(("Length in metres", "len"), "<f8"), (("Name", "name"), "S4")])
    a["structured-offsets"] = np.zeros(2, dtype=np.dtype({"names": ["a", "b"], "formats": ["<i2", "<f8"], "offsets": [0, 8], "itemsize": 24}))
    a["subarray-field"] = np.zeros(3, dtype=[("m", "<f4", (2, 3))])
    a["bool-3d"] = np.random.RandomState(3).rand(2, 3, 4) > 0.5
    a["big-header-shape"] = np.zeros((1,) * 30, dtype="<u1")
    return a


def gen_numpy(c):
    from numpy.lib import format as npf
    for i, (n, v) in enumerate(sorted(object_arrays().items())):
        c.add("numpy/object/%s.npy" % n, "numpy-object", "np.save of an object array: %s" % n, lambda p, v=v: np.save(p, v, allow_pickle=True),
              "numpy.load(allow_pickle=True)")
        # The same through write_array with each header version.
        ver = [(1, 0), (2, 0), (3, 0)][i % 3]
        def wa(p, v=v, ver=ver):
            with open(p, "wb") as f:
                npf.write_array(f, v, version=ver, allow_pickle=True)
        c.add("numpy/object/%s.v%d.npy" % (n, ver[0]), "numpy-object", "format.write_array version %s of an object array: %s" % (ver, n), wa,
              "numpy.load(allow_pickle=True)")
    for i, (n, v) in enumerate(sorted(plain_arrays().items())):
        c.add("numpy/plain/%s.npy" % n, "numpy-array", "np.save: %s" % n, lambda p, v=v: np.save(p, v, allow_pickle=False), "numpy.load")
        ver = [(1, 0), (2, 0), (3, 0)][i % 3]
        def wa(p, v=v, ver=ver):
            with open(p, "wb") as f:
                npf.write_array(f, v, version=ver)
        c.add("numpy/plain/%s.v%d.npy" % (n, ver[0]), "numpy-array", "format.write_array version %s: %s" % (ver, n), wa, "numpy.load")
    objs = object_arrays()
    plain = plain_arrays()
    c.add("numpy/npz/plain.npz", "numpy-npz", "np.savez of plain arrays", lambda p: np.savez(p, **{k: plain[k] for k in sorted(plain)[:8]}), "numpy.load")
    c.add("numpy/npz/plain-compressed.npz", "numpy-npz", "np.savez_compressed of plain arrays", lambda p: np.savez_compressed(p, *[plain[k] for k in sorted(plain)[8:16]]), "numpy.load")
    c.add("numpy/npz/object.npz", "numpy-npz", "np.savez of object arrays", lambda p: np.savez(p, **{k: objs[k] for k in sorted(objs)[:6]}), "numpy.load(allow_pickle=True)")
    c.add("numpy/npz/object-compressed.npz", "numpy-npz", "np.savez_compressed of object and plain arrays",
          lambda p: np.savez_compressed(p, a=objs["mixed"], b=plain["structured"], c=objs["structured-with-object"]), "numpy.load(allow_pickle=True)")
    # Pickled numpy objects, every protocol.
    rng = np.random.RandomState(3)
    pk = {
        "ndarray-f8": rng.rand(3, 3),
        "ndarray-structured": plain["structured-nested"],
        "ndarray-object": objs["mixed"],
        "ndarray-fortran-be": np.asfortranarray(rng.rand(2, 3)).astype(">f4"),
        "ndarray-noncontiguous": rng.rand(4, 4)[::2, ::-1],
        "matrix": np.matrix([[1, 2], [3, 4]]),
        "masked": np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0], fill_value=-1),
        "masked-constant": np.ma.masked,
        "recarray": np.rec.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
        "record": np.rec.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")])[0],
        "chararray": np.char.array(["ab", "c"]),
        "memmap-like-view": np.arange(10).view(np.ndarray)[2:5],
        "scalars": [np.float16(1), np.float32(2), np.float64(3), np.longdouble(4), np.complex64(1j), np.complex128(2j), np.clongdouble(3j),
                    np.int8(1), np.int16(2), np.int32(3), np.int64(4), np.uint8(5), np.uint16(6), np.uint32(7), np.uint64(8),
                    np.bool_(True), np.str_("s"), np.bytes_(b"b"), np.void(b"\x01\x02"), np.datetime64("2021-03-04T05:06"), np.timedelta64(3, "h")],
        "dtypes": [np.dtype("f4"), np.dtype(">i8"), np.dtype([("a", "u1"), ("b", "<f4", (2,))]), np.dtype("M8[us]"), np.dtype("U3"), np.dtype("O"),
                   np.dtype("V8"), np.dtype({"names": ["x"], "formats": ["<i2"], "offsets": [2], "itemsize": 8})],
        "random-state": np.random.RandomState(42),
        "generator-pcg64": np.random.default_rng(5),
        "generator-mt19937": np.random.Generator(np.random.MT19937(6)),
        "generator-philox": np.random.Generator(np.random.Philox(7)),
        "generator-sfc64": np.random.Generator(np.random.SFC64(8)),
        "generator-pcg64dxsm": np.random.Generator(np.random.PCG64DXSM(9)),
        "seed-sequence": np.random.SeedSequence(10),
        "poly1d": np.poly1d([1, 2, 3]),
        "finfo-iinfo-values": {"eps": np.finfo(np.float32).eps, "max": np.iinfo(np.int16).max},
        "nested-dict-of-arrays": {"train": {"X": rng.rand(5, 2), "y": np.arange(5)}, "meta": [np.array(["a"]), (np.int64(1),)]},
    }
    for i, (n, v) in enumerate(sorted(pk.items())):
        for proto in range(6):
            c.add("numpy/pickle/%s.p%d.pkl" % (n, proto), "numpy-pickle", "pickle.dump of %s, protocol %d" % (n, proto), dump(v, proto), "pickle.load")
    # Several pickles in one file, as a loader that calls pickle.load in a
    # loop reads them.
    def multi(p):
        with open(p, "wb") as f:
            for proto, v in enumerate([rng.rand(2), {"a": 1}, np.int32(3), "end"]):
                pickle.dump(v, f, protocol=proto + 2)
    c.add("numpy/pickle/consecutive-streams.pkl", "numpy-pickle", "four consecutive pickles of numpy values", multi, "pickle.load*")


def joblib_objects():
    rng = np.random.RandomState(4)
    return {
        "arrays": {"a": rng.rand(50, 4), "b": np.arange(20, dtype="<i2"), "c": rng.rand(3).astype(">f8"), "d": np.array(["x", "yz"])},
        "object-array": np.array([{"a": 1}, [1, 2], "s", None], dtype=object),
        "mixed": [rng.rand(3, 3), np.array([1, "a"], dtype=object), {"k": np.float32(1)}, "text", 1.5, np.asfortranarray(rng.rand(2, 5))],
        "structured": np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8", (2,)), ("c", "O")]),
        "empty-and-0d": [np.empty((0, 2)), np.array(1.5), np.array("s")],
        "big": rng.rand(200, 200).astype("<f4"),
        "scalar": 42,
        "matrix-masked": [np.matrix([[1.0]]), np.ma.masked_array([1, 2], mask=[1, 0])],
    }


JOBLIB_COMPRESS = [0, 1, 3, 9, ("zlib", 6), ("gzip", 1), ("gzip", 9), ("bz2", 1), ("bz2", 9), ("lzma", 1), ("lzma", 9), ("xz", 3), ("lz4", 0), ("lz4", 3), ("lz4", 9)]


def gen_joblib(c):
    objs = joblib_objects()
    for i, comp in enumerate(JOBLIB_COMPRESS):
        cname = "none" if comp == 0 else ("zlib" + str(comp) if isinstance(comp, int) else "%s%d" % comp)
        for j, (n, v) in enumerate(sorted(objs.items())):
            if (i + j) % 2 and n not in ("arrays", "object-array"):
                continue
            c.add("joblib/%s/%s.joblib" % (cname, n), "joblib", "joblib.dump(%s, compress=%r)" % (n, comp),
                  lambda p, v=v, comp=comp: joblib.dump(v, p, compress=comp), "joblib.load")
    # Compression chosen by the file name, and each pickle protocol.
    for ext in ("z", "gz", "bz2", "lzma", "xz", "lz4"):
        c.add("joblib/by-extension/arrays.joblib.%s" % ext, "joblib", "joblib.dump to a .%s name (compression from the extension)" % ext,
              lambda p: joblib.dump(objs["arrays"], p), "joblib.load")
    for proto in range(6):
        c.add("joblib/protocol/mixed.p%d.joblib" % proto, "joblib", "joblib.dump(protocol=%d)" % proto,
              lambda p, proto=proto: joblib.dump(objs["mixed"], p, protocol=proto), "joblib.load")
        c.add("joblib/protocol/mixed.p%d.joblib.gz" % proto, "joblib", "joblib.dump(protocol=%d), gzip" % proto,
              lambda p, proto=proto: joblib.dump(objs["mixed"], p, protocol=proto, compress=("gzip", 3)), "joblib.load")
    # joblib writing to an open file object (no padding alignment choices).
    def fileobj(p):
        with open(p, "wb") as f:
            joblib.dump(objs["arrays"], f)
    c.add("joblib/fileobj/arrays.joblib", "joblib", "joblib.dump to an open file object", fileobj, "joblib.load")


def gen_scipy(c):
    import scipy.interpolate as si
    import scipy.io
    import scipy.sparse as sp
    import scipy.spatial as ss
    import scipy.stats as st
    from scipy.spatial.transform import Rotation
    rng = np.random.RandomState(5)
    dense = sp.random(6, 5, density=0.4, random_state=rng, format="csr")
    objs = {}
    for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
        objs["sparse-%s_matrix" % fmt] = dense.asformat(fmt)
        arr = getattr(sp, "%s_array" % fmt, None)
        if arr is not None:
            objs["sparse-%s_array" % fmt] = arr(dense)
    objs["sparse-int-csr"] = sp.csr_matrix(np.eye(3, dtype=np.int64))
    objs["kdtree"] = ss.KDTree(rng.rand(10, 2))
    objs["ckdtree"] = ss.cKDTree(rng.rand(10, 3))
    objs["rotation"] = Rotation.from_euler("xyz", [10, 20, 30], degrees=True)
    objs["cubic-spline"] = si.CubicSpline(np.arange(5), rng.rand(5))
    objs["bspline"] = si.make_interp_spline(np.arange(6), rng.rand(6))
    objs["ppoly"] = si.PPoly(rng.rand(2, 3), np.arange(4))
    objs["frozen-norm"] = st.norm(loc=1, scale=2)
    objs["frozen-gamma"] = st.gamma(2.0)
    objs["frozen-poisson"] = st.poisson(3.0)
    objs["linregress-result"] = st.linregress(np.arange(5), np.arange(5) * 2 + 1)
    objs["describe-result"] = st.describe(rng.rand(10))
    import scipy.optimize as so
    objs["optimize-result"] = so.minimize(lambda x: (x ** 2).sum(), np.ones(2), method="BFGS")
    objs["delaunay"] = ss.Delaunay(rng.rand(6, 2))
    objs["convex-hull"] = ss.ConvexHull(rng.rand(8, 2))
    for i, (n, v) in enumerate(sorted(objs.items())):
        proto = [2, 3, 4, 5, 0, 1][i % 6]
        c.add("scipy/pickle/%s.p%d.pkl" % (n, proto), "scipy-pickle", "pickle.dump of scipy %s, protocol %d" % (n, proto), dump(v, proto), "pickle.load")
        c.add("scipy/joblib/%s.joblib" % n, "scipy-joblib", "joblib.dump of scipy %s" % n, lambda p, v=v: joblib.dump(v, p, compress=i % 4), "joblib.load")
    for fmt in ("csr", "csc", "coo", "bsr", "dia"):
        for compressed in (True, False):
            c.add("scipy/npz/%s%s.npz" % (fmt, "-compressed" if compressed else ""), "scipy-npz", "scipy.sparse.save_npz(%s, compressed=%s)" % (fmt, compressed),
                  lambda p, fmt=fmt, compressed=compressed: sp.save_npz(p, dense.asformat(fmt), compressed=compressed), "scipy.sparse.load_npz")
    c.add("scipy/mat/arrays-v5.mat", "scipy-mat", "scipy.io.savemat (MATLAB v5) of arrays and a struct",
          lambda p: scipy.io.savemat(p, {"a": rng.rand(3, 3), "s": {"x": 1, "y": "text"}, "c": np.array([[1, "a"]], dtype=object)}), "scipy.io.loadmat")
    c.add("scipy/mat/compressed-v5.mat", "scipy-mat", "scipy.io.savemat(do_compression=True)",
          lambda p: scipy.io.savemat(p, {"a": rng.rand(10, 10)}, do_compression=True), "scipy.io.loadmat")
    c.add("scipy/mat/v4.mat", "scipy-mat", "scipy.io.savemat(format='4')", lambda p: scipy.io.savemat(p, {"a": rng.rand(2, 2)}, format="4"), "scipy.io.loadmat")


def onnx_models():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.RandomState(6)
    W = numpy_helper.from_array(rng.rand(4, 3).astype(np.float32), "W")
    B = numpy_helper.from_array(rng.rand(3).astype(np.float32), "B")
    X = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])
    Y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])
    g = helper.make_graph([helper.make_node("Gemm", ["X", "W", "B"], ["H"]), helper.make_node("Relu", ["H"], ["Y"])], "mlp", [X], [Y], [W, B])
    m = {"mlp": helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="aigis-corpus")}
    C = helper.make_tensor_value_info("C", TensorProto.FLOAT, [1, 1, 4, 4])
    K = numpy_helper.from_array(rng.rand(2, 1, 3, 3).astype(np.float32), "K")
    O = helper.make_tensor_value_info("O", TensorProto.FLOAT, [1, 2, 4, 4])
    g2 = helper.make_graph([helper.make_node("Conv", ["C", "K"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Sigmoid", ["c"], ["O"])], "conv", [C], [O], [K])
    m["conv"] = helper.make_model(g2, opset_imports=[helper.make_opsetid("", 17)])
    L = helper.make_tensor_value_info("L", TensorProto.FLOAT, [None, 2])
    P = helper.make_tensor_value_info("P", TensorProto.INT64, [None])
    g3 = helper.make_graph([helper.make_node("LinearClassifier", ["L"], ["P", "S"], domain="ai.onnx.ml", coefficients=[1.0, -1.0, 0.5, 0.5],
                                             classlabels_ints=[0, 1])], "ml", [L], [P, helper.make_tensor_value_info("S", TensorProto.FLOAT, [None, 2])])
    m["onnx-ml"] = helper.make_model(g3, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)])
    S = helper.make_tensor_value_info("S", TensorProto.STRING, [None])
    g4 = helper.make_graph([helper.make_node("Identity", ["S"], ["T"])], "strings", [S], [helper.make_tensor_value_info("T", TensorProto.STRING, [None])],
                           [helper.make_tensor("names", TensorProto.STRING, [2], [b"a", b"b"])])
    m["strings"] = helper.make_model(g4, opset_imports=[helper.make_opsetid("", 13)])
    for k in m:
        onnx.checker.check_model(m[k])
    return m


def gen_onnx(c):
    import onnx
    models = onnx_models()
    for n, m in sorted(models.items()):
        c.add("onnx/%s.onnx" % n, "onnx", "ONNX model %s" % n, lambda p, m=m: onnx.save(m, p), "onnx.load")
        for proto in (2, 4, 5):
            c.add("onnx/pickle/%s.p%d.pkl" % (n, proto), "onnx-pickle", "pickle.dump of an onnx ModelProto, protocol %d" % proto, dump(m, proto), "pickle.load")

    def external(p):
        import os
        m = onnx.ModelProto()
        m.CopyFrom(models["mlp"])
        onnx.save(m, p, save_as_external_data=True, all_tensors_to_one_file=True, location=os.path.basename(p) + ".data", size_threshold=0)
    c.add("onnx/external/mlp-external.onnx", "onnx", "ONNX model with external data in a sibling file", external, "onnx.load")


def gen_h5py(c):
    import h5py
    rng = np.random.RandomState(7)

    def basic(p):
        with h5py.File(p, "w") as f:
            f["a"] = rng.rand(4, 3)
            f.create_dataset("ints", data=np.arange(10, dtype="<i2"), compression="gzip", chunks=(5,))
            f.create_dataset("lzf", data=rng.rand(100), compression="lzf", shuffle=True)
            f.attrs["note"] = "hello"
            g = f.create_group("group/sub")
            g["s"] = np.array([b"ab", b"c"])
            g.attrs["n"] = 3
    c.add("h5py/basic.h5", "hdf5", "h5py file with groups, compressed datasets and attributes", basic, "h5py.File")

    def strings(p):
        with h5py.File(p, "w") as f:
            f.create_dataset("vlen", data=["α", "bb", ""], dtype=h5py.string_dtype())
            f.create_dataset("ragged", data=np.array([np.arange(2), np.arange(3)], dtype=object), dtype=h5py.vlen_dtype("<i4"))
            f["compound"] = np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")])
            f.attrs["json"] = '{"a": [1, 2]}'
            f["ref"] = f["vlen"].ref
    c.add("h5py/strings-vlen-compound.h5", "hdf5", "h5py file with vlen strings, ragged arrays, compound types and references", strings, "h5py.File")

    def weights(p):
        # The layout torch-to-HDF5 exporters and Keras weight files use:
        # one group per layer, weights as datasets, names as attributes.
        with h5py.File(p, "w") as f:
            for i in range(3):
                g = f.create_group("layer_%d" % i)
                g["kernel"] = rng.rand(4, 4).astype("<f4")
                g["bias"] = np.zeros(4, dtype="<f4")
                g.attrs["weight_names"] = [b"kernel", b"bias"]
            f.attrs["layer_names"] = [b"layer_0", b"layer_1", b"layer_2"]
    c.add("h5py/layer-weights.h5", "hdf5", "h5py file laid out like per-layer weights", weights, "h5py.File")

    def libver(p):
        with h5py.File(p, "w", libver="latest") as f:
            f.create_dataset("x", data=rng.rand(3), maxshape=(None,), chunks=True)
            f["x"].resize((5,))
    c.add("h5py/libver-latest.h5", "hdf5", "h5py file with libver='latest' (superblock v3) and a resizable dataset", libver, "h5py.File")


SECTIONS = {"numpy": gen_numpy, "joblib": gen_joblib, "scipy": gen_scipy, "onnx": gen_onnx, "h5py": gen_h5py}
