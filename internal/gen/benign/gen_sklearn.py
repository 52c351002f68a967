"""scikit-learn section: every estimator and transformer that
sklearn.utils.all_estimators lists, fitted on toy data, saved with joblib
(every compressor) and with pickle (protocols 0 to 5); function-valued
parameters (numpy ufuncs, sklearn score functions and metrics, kernels).
"""

import pickle
import warnings

import joblib
import numpy as np

warnings.filterwarnings("ignore")

from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.utils import all_estimators
from sklearn.utils.estimator_checks import _construct_instance, _enforce_estimator_tags_X, _enforce_estimator_tags_y, _safe_tags

COMPRESS = [0, 3, ("zlib", 1), ("gzip", 6), ("bz2", 9), ("lzma", 3), ("xz", 2), ("lz4", 5), True, 9]


def toy_data(y_kind="class", n=40, d=4):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(n, d))
    if y_kind == "class":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    else:
        y = X @ np.arange(1, d + 1) + rng.normal(scale=0.1, size=n)
    return X, y


def build(name, cls):
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    special = {
        "ColumnTransformer": lambda: ColumnTransformer([("s", StandardScaler(), [0, 1]), ("p", PCA(1), [2, 3])], remainder="drop"),
        "FeatureUnion": lambda: FeatureUnion([("s", StandardScaler()), ("p", PCA(2))]),
        "Pipeline": lambda: Pipeline([("s", StandardScaler()), ("lr", LogisticRegression())]),
        "GridSearchCV": lambda: cls(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]}, cv=2),
        "RandomizedSearchCV": lambda: cls(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_iter=2, cv=2, random_state=0),
        "HalvingGridSearchCV": lambda: cls(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=2, random_state=0),
        "HalvingRandomSearchCV": lambda: cls(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=2, random_state=0),
        "SparseCoder": lambda: cls(dictionary=np.random.RandomState(0).normal(size=(3, 4))),
    }
    if name in special:
        return special[name]()
    est = _construct_instance(cls)
    params = est.get_params()
    over = {}
    if "random_state" in params:
        over["random_state"] = 0
    for k, v in (("max_iter", 50), ("n_estimators", 3), ("n_init", 1)):
        if k in params and isinstance(params[k], int) and params[k] > v:
            over[k] = v
    for k, v in (("n_components", 1 if "PLS" in name or name == "CCA" else (6 if name == "SpectralBiclustering" else 2)), ("k", 2), ("nu", 0.1)):
        if k in params and (params[k] is None or params[k] == "auto" or isinstance(params[k], (int, float)) and params[k] > v):
            over[k] = v
    if name in ("GaussianRandomProjection", "SparseRandomProjection"):
        over["n_components"] = 2
    if over:
        est.set_params(**over)
    return est


TEXT = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer", "DictVectorizer", "FeatureHasher")


def fit(est):
    from sklearn.base import is_regressor
    name = type(est).__name__
    tags = _safe_tags(est)
    X_types = tags.get("X_types", ["2darray"])
    if name in TEXT:
        docs = ["the cat sat", "the dog ran", "a cat and a dog", "dogs and cats sat down", "the end"]
        if name == "DictVectorizer":
            return est.fit([{"a": 1, "b": 2.0}, {"a": 3, "c": "x"}])
        if name == "FeatureHasher":
            return est.fit([{"a": 1}, {"b": 2}]) if est.input_type == "dict" else est.fit([["a", "b"]])
        return est.fit(docs)
    if "2darray" not in X_types and ("1dlabels" in X_types or "2dlabels" in X_types):
        if name == "MultiLabelBinarizer":
            return est.fit([(1, 2), (3,), ()])
        return est.fit(np.array([1, 2, 2, 6, 1]))
    if name == "PatchExtractor":
        return est.fit(np.random.RandomState(0).rand(2, 6, 6))
    X, y = toy_data("reg" if is_regressor(est) else "class")
    X = _enforce_estimator_tags_X(est, X)
    y = _enforce_estimator_tags_y(est, y)
    if name in ("ClassifierChain", "MultiOutputClassifier", "MultiOutputRegressor", "RegressorChain") or name.startswith("MultiTask"):
        y = np.c_[y, y[::-1]]
    if name in ("SelfTrainingClassifier", "LabelPropagation", "LabelSpreading"):
        y = y.copy()
        y[::3] = -1
    try:
        return est.fit(X, y)
    except TypeError:
        return est.fit(X)


def function_valued():
    """Estimators whose parameters or fitted state hold functions: numpy
    ufuncs, sklearn's own score functions, metrics and kernels."""
    from sklearn.compose import TransformedTargetRegressor, make_column_selector, make_column_transformer
    from sklearn.feature_selection import (GenericUnivariateSelect, SelectFdr, SelectKBest, SelectPercentile, chi2, f_classif,
                                           f_regression, mutual_info_classif, r_regression)
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, DotProduct, WhiteKernel
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import accuracy_score, fbeta_score, make_scorer, mean_absolute_error
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsClassifier, KernelDensity, NearestNeighbors
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    Xc, yc = toy_data("class")
    Xr, yr = toy_data("reg")
    Xp = Xc - Xc.min()
    return {
        "FunctionTransformer-log1p": lambda: FunctionTransformer(func=np.log1p, inverse_func=np.expm1, validate=True).fit(Xp),
        "FunctionTransformer-sqrt-kw": lambda: FunctionTransformer(np.sqrt, kw_args={"where": np.ones_like(Xp, dtype=bool)}).fit(Xp),
        "FunctionTransformer-clip": lambda: FunctionTransformer(np.clip, kw_args={"a_min": 0, "a_max": 1}).fit(Xp),
        "FunctionTransformer-ufuncs": lambda: FunctionTransformer(np.exp, inverse_func=np.log, check_inverse=False).fit(Xc),
        "TransformedTargetRegressor-log": lambda: TransformedTargetRegressor(LinearRegression(), func=np.log1p, inverse_func=np.expm1).fit(Xr, np.abs(yr)),
        "SelectKBest-chi2": lambda: SelectKBest(chi2, k=2).fit(Xp, yc),
        "SelectKBest-f_regression": lambda: SelectKBest(f_regression, k=2).fit(Xr, yr),
        "SelectKBest-r_regression": lambda: SelectKBest(r_regression, k=2).fit(Xr, yr),
        "SelectPercentile-mutual-info": lambda: SelectPercentile(mutual_info_classif, percentile=50).fit(Xc, yc),
        "SelectFdr-f_classif": lambda: SelectFdr(f_classif, alpha=0.5).fit(Xc, yc),
        "GenericUnivariateSelect": lambda: GenericUnivariateSelect(f_classif, mode="k_best", param=2).fit(Xc, yc),
        "GridSearchCV-scorer": lambda: GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2]}, cv=2,
                                                    scoring=make_scorer(fbeta_score, beta=2, average="macro")).fit(Xc, yc),
        "GridSearchCV-multi-metric": lambda: GridSearchCV(LogisticRegression(), {"C": [0.1, 1]}, cv=2, refit="acc",
                                                          scoring={"acc": "accuracy", "mae": make_scorer(mean_absolute_error, greater_is_better=False),
                                                                   "a2": make_scorer(accuracy_score)}).fit(Xc, yc),
        "KNeighbors-kd_tree": lambda: KNeighborsClassifier(3, algorithm="kd_tree").fit(Xc, yc),
        "KNeighbors-ball_tree-haversine": lambda: NearestNeighbors(n_neighbors=2, algorithm="ball_tree", metric="haversine").fit(Xc[:, :2]),
        "KNeighbors-brute-cosine": lambda: KNeighborsClassifier(2, algorithm="brute", metric="cosine").fit(Xc, yc),
        "KNeighbors-minkowski-weights": lambda: KNeighborsClassifier(2, metric="minkowski", p=3, weights="distance").fit(Xc, yc),
        "KernelDensity-epanechnikov": lambda: KernelDensity(kernel="epanechnikov", bandwidth=0.5).fit(Xc),
        "GaussianProcess-kernels": lambda: GaussianProcessRegressor(ConstantKernel() * RBF() + WhiteKernel() + DotProduct(), random_state=0).fit(Xr, yr),
        "ColumnTransformer-selector": lambda: make_column_transformer((StandardScaler(), make_column_selector(dtype_include=np.number))).fit(
            __import__("pandas").DataFrame(Xc, columns=list("abcd"))) if _has_pandas() else make_column_transformer((StandardScaler(), [0])).fit(Xc),
    }


def dump_pickle(obj, p, proto):
    with open(p, "wb") as f:
        pickle.dump(obj, f, protocol=proto)


def _has_pandas():
    try:
        import pandas  # noqa: F401
        return True
    except ImportError:
        return False


def gen_sklearn(c):
    i = 0
    ests = all_estimators()
    for name, cls in ests:
        obj = {}

        def fitted(name=name, cls=cls):
            if "e" not in obj:
                obj["e"] = fit(build(name, cls))
            return obj["e"]
        _emit(c, "sklearn/estimators", name, fitted, i)
        i += 1
    for name, mk in sorted(function_valued().items()):
        _emit(c, "sklearn/functions", name, mk, i)
        i += 1
    # Unfitted estimators and a few containers of sklearn objects.
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    c.add("sklearn/misc/iris-bunch.pkl", "sklearn-pickle", "sklearn.datasets.load_iris() Bunch", lambda p: dump_pickle(load_iris(), p, 4), "pickle.load")
    c.add("sklearn/misc/unfitted-estimators.joblib", "sklearn-joblib", "a list of unfitted estimators",
          lambda p: joblib.dump([cls() for n, cls in ests if n in ("LogisticRegression", "RandomForestClassifier", "StandardScaler", "PCA")], p), "joblib.load")
    c.add("sklearn/misc/model-dict.joblib", "sklearn-joblib", "a dict of a fitted model, its metadata and feature names",
          lambda p: joblib.dump({"model": LogisticRegression().fit(*toy_data()), "features": np.array(list("abcd"), dtype=object),
                                 "version": "1.0", "classes": np.arange(3)}, p, compress=3), "joblib.load")


def _emit(c, folder, name, mk, i):
    comp = COMPRESS[i % len(COMPRESS)]
    proto = i % 6
    cname = "raw" if comp in (0, False) else (comp[0] + str(comp[1]) if isinstance(comp, tuple) else "zlib" + str(3 if comp is True else comp))
    c.add("%s/%s.%s.joblib" % (folder, name, cname), "sklearn-joblib", "%s fitted, joblib.dump(compress=%r)" % (name, comp),
          lambda p: joblib.dump(mk(), p, compress=comp), "joblib.load")
    c.add("%s/%s.p%d.pkl" % (folder, name, proto), "sklearn-pickle", "%s fitted, pickle protocol %d" % (name, proto),
          lambda p: dump_pickle(mk(), p, proto), "pickle.load")


SECTIONS = {"sklearn": gen_sklearn}
