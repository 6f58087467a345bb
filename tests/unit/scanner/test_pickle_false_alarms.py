"""No false alarms: real fitted models and data, pickled and joblib-dumped, scan clean.

Artifacts are built here (pickle.dumps / joblib.dump of objects we create) and only scanned.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import io
import pathlib
import pickle
import uuid
import warnings
import zoneinfo
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from test_pickle_payloads import ALLOWLIST, LIMITS, findings_of

from signoff.scanner.joblib_format import scan_joblib
from signoff.scanner.pickle_scan import scan_pickles


def _fit_models() -> dict[str, Any]:
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    Xr, yr = make_regression(n_samples=120, n_features=6, random_state=0)
    table = np.array(
        [["a", "x", 1.0, 2.0], ["b", "y", 3.0, 4.0], ["a", "y", 5.0, 6.5], ["c", "x", 0.5, 1.0]],
        dtype=object,
    )
    preprocess = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), [0, 1]), ("num", StandardScaler(), [2, 3])]
    )
    docs = ["the cat sat", "the dog ran", "a cat and a dog", "dogs and cats"]
    models: dict[str, Any] = {
        "logistic": LogisticRegression(max_iter=500).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=4, random_state=0).fit(X, y),
        "gboost": GradientBoostingClassifier(n_estimators=4, random_state=0).fit(X, y),
        "histgb": HistGradientBoostingClassifier(max_iter=4).fit(X, y),
        "histgb-reg": HistGradientBoostingRegressor(max_iter=4).fit(Xr, yr),
        "svc": SVC(probability=True, random_state=0).fit(X, y),
        "kmeans": KMeans(n_clusters=3, n_init=2, random_state=0).fit(X),
        "pca": PCA(2).fit(X),
        "pipeline": Pipeline([("prep", preprocess), ("clf", LogisticRegression())]).fit(
            table, [0, 1, 0, 1]
        ),
        "mlp": MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y),
        "iforest": IsolationForest(n_estimators=4, random_state=0).fit(X),
        "knn": KNeighborsClassifier().fit(X, y),
        "tree": DecisionTreeClassifier(random_state=0).fit(X, y),
        "ridge": Ridge().fit(Xr, yr),
        "tfidf": TfidfVectorizer(ngram_range=(1, 2)).fit(docs),
        "select-log": Pipeline(
            [("k", SelectKBest(k=3)), ("log", FunctionTransformer(np.abs)), ("clf", Ridge())]
        ).fit(X, yr),
        "grid": GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.5, 1.0]}, cv=KFold(3)).fit(
            X, y
        ),
    }
    return models


def _data() -> dict[str, Any]:
    return {
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "fortran": np.asfortranarray(np.ones((3, 2))),
        "object-ints": np.array([1, 2, None], dtype=object),
        "object-strs": np.array(["a", "bb", "ccc"], dtype=object),
        "structured": np.zeros(3, dtype=[("id", "i4"), ("score", "f8"), ("tag", "U4")]),
        "datetimes": np.array(["2024-01-01", "2024-06-01"], dtype="M8[ns]"),
        "scalars": [np.float64(1.5), np.int32(2), np.bool_(True), np.str_("s")],
        "random": np.random.RandomState(0),
        "generator": np.random.default_rng(0),
        "masked": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
        "containers": {
            "dict": {"a": 1},
            "ordered": collections.OrderedDict(a=1),
            "default": collections.defaultdict(list, {"k": [1]}),
            "deque": collections.deque([1, 2]),
            "counter": collections.Counter("hello"),
            "set": {1, 2},
            "frozen": frozenset({3}),
            "bytes": b"\x00\x01",
            "bytearray": bytearray(b"ab"),
            "complex": 1 + 2j,
            "slice": slice(1, 5, 2),
            "range": range(3),
        },
        "values": [
            datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.UTC),
            datetime.datetime(2024, 1, 2, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
            datetime.date(2024, 1, 2),
            datetime.time(12, 30),
            datetime.timedelta(days=1),
            decimal.Decimal("1.25"),
            fractions.Fraction(1, 3),
            uuid.UUID(int=7),
            pathlib.PurePosixPath("models/a.bin"),
        ],
    }


@pytest.fixture(scope="module")
def artifacts() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {**_fit_models(), **_data()}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickled_models_and_data_scan_clean(artifacts: dict[str, Any], protocol: int) -> None:
    noisy = {}
    for name, obj in artifacts.items():
        findings = findings_of(pickle.dumps(obj, protocol=protocol))
        if findings:
            noisy[name] = [(f.rule_id, f.construct) for f in findings]
    assert noisy == {}


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)])
def test_joblib_dumps_scan_clean(artifacts: dict[str, Any], protocol: int, compress: Any) -> None:
    noisy = {}
    for name, obj in artifacts.items():
        buffer = io.BytesIO()
        joblib.dump(obj, buffer, compress=compress, protocol=protocol)
        findings = scan_joblib(
            io.BytesIO(buffer.getvalue()), file="m.joblib", allowlist=ALLOWLIST, limits=LIMITS
        )
        if findings:
            noisy[name] = [(f.rule_id, f.construct) for f in findings]
    assert noisy == {}


def test_uncompressed_joblib_files_scan_clean_as_plain_pickles(artifacts: dict[str, Any]) -> None:
    # The dispatcher sniffs joblib files as pickles: scan_pickles follows joblib's inline arrays.
    for obj in artifacts.values():
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        buffer.seek(0)
        scans = scan_pickles(buffer, file="m.joblib", allowlist=ALLOWLIST, limits=LIMITS)
        assert [f for s in scans for f in s.findings] == []
        assert scans[-1].end_offset == len(buffer.getvalue())


def test_lightgbm_models_scan_clean() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    model = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y)
    assert findings_of(pickle.dumps(model, protocol=4)) == []


def test_pandas_frames_scan_clean() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {"a": [1, 2], "b": ["x", "y"], "t": pandas.date_range("2024-01-01", periods=2, tz="UTC")}
    )
    assert findings_of(pickle.dumps(frame, protocol=4)) == []
