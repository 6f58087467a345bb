"""The clean samples: real artifacts written by the libraries that users save models with.

Each builder writes into an empty directory and returns the name of the file to scan (``None``:
scan the directory). Builders whose library is not installed raise ``Missing``; the corpus
records them as skipped.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .archives import Member, tar_bytes, write_zip

SEED = 0


class Missing(Exception):
    """A library the builder needs is not installed."""


@dataclass(frozen=True)
class Clean:
    id: str
    cls: str
    note: str
    build: Callable[[Path], str | None]


CLEAN: list[Clean] = []


def clean(id: str, cls: str, note: str) -> Callable[[Callable[[Path], str | None]], object]:
    def register(fn: Callable[[Path], str | None]) -> Callable[[Path], str | None]:
        CLEAN.append(Clean(id, cls, note, fn))
        return fn

    return register


def need(module: str) -> object:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise Missing(module) from exc


# --- scikit-learn ------------------------------------------------------------------------------


def _iris():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def _dump(model: object, path: Path, compress: object = 0) -> str:
    import joblib

    joblib.dump(model, path, compress=compress)
    return path.name


@clean("skl-logreg", "sklearn", "LogisticRegression, joblib.dump")
def _logreg(d: Path) -> str:
    from sklearn.linear_model import LogisticRegression

    x, y = _iris()
    return _dump(LogisticRegression(max_iter=500).fit(x, y), d / "model.joblib")


@clean("skl-random-forest-zlib", "sklearn", "RandomForestClassifier, joblib compress=3 (zlib)")
def _rf(d: Path) -> str:
    from sklearn.ensemble import RandomForestClassifier

    x, y = _iris()
    model = RandomForestClassifier(n_estimators=10, random_state=SEED).fit(x, y)
    return _dump(model, d / "model.joblib", 3)


@clean("skl-gbr-gzip", "sklearn", "GradientBoostingRegressor, joblib ('gzip', 3)")
def _gbr(d: Path) -> str:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    x, y = load_diabetes(return_X_y=True)
    model = GradientBoostingRegressor(n_estimators=20, random_state=SEED).fit(x, y)
    return _dump(model, d / "model.joblib.gz", ("gzip", 3))


@clean("skl-svc-pipeline-xz", "sklearn", "Pipeline(StandardScaler, SVC), joblib ('xz', 3)")
def _svc(d: Path) -> str:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = _iris()
    model = make_pipeline(StandardScaler(), SVC(probability=True, random_state=SEED)).fit(x, y)
    return _dump(model, d / "model.joblib.xz", ("xz", 3))


@clean("skl-kmeans-bz2", "sklearn", "KMeans, joblib ('bz2', 3)")
def _kmeans(d: Path) -> str:
    from sklearn.cluster import KMeans

    x, _ = _iris()
    model = KMeans(n_clusters=3, n_init=3, random_state=SEED).fit(x)
    return _dump(model, d / "model.joblib.bz2", ("bz2", 3))


@clean("skl-mlp-lzma", "sklearn", "MLPClassifier, joblib ('lzma', 3)")
def _mlp(d: Path) -> str:
    from sklearn.neural_network import MLPClassifier

    x, y = _iris()
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=SEED).fit(x, y)
    return _dump(model, d / "model.joblib.lzma", ("lzma", 3))


@clean("skl-tfidf-nb", "sklearn", "Pipeline(TfidfVectorizer, MultinomialNB), joblib.dump")
def _tfidf(d: Path) -> str:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    docs = ["good movie", "great plot", "bad acting", "awful film", "great cast", "bad plot"]
    labels = [1, 1, 0, 0, 1, 0]
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), MultinomialNB()).fit(docs, labels)
    return _dump(model, d / "sentiment.joblib")


@clean("skl-hist-gb", "sklearn", "HistGradientBoostingClassifier, joblib.dump")
def _hgb(d: Path) -> str:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _iris()
    model = HistGradientBoostingClassifier(max_iter=20, random_state=SEED).fit(x, y)
    return _dump(model, d / "model.joblib")


@clean("skl-isolation-forest", "sklearn", "IsolationForest, joblib.dump")
def _iso(d: Path) -> str:
    from sklearn.ensemble import IsolationForest

    x, _ = _iris()
    return _dump(IsolationForest(n_estimators=20, random_state=SEED).fit(x), d / "model.joblib")


@clean("skl-knn", "sklearn", "KNeighborsClassifier (KD-tree), joblib.dump")
def _knn(d: Path) -> str:
    from sklearn.neighbors import KNeighborsClassifier

    x, y = _iris()
    return _dump(KNeighborsClassifier(algorithm="kd_tree").fit(x, y), d / "model.joblib")


@clean(
    "skl-column-transformer",
    "sklearn",
    "ColumnTransformer(OneHotEncoder on strings, StandardScaler) + LogisticRegression",
)
def _ct(d: Path) -> str:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(SEED)
    colors = rng.choice(["red", "green", "blue"], size=60)
    x = np.empty((60, 2), dtype=object)
    x[:, 0] = colors
    x[:, 1] = rng.normal(size=60)
    y = (colors == "red").astype(int)
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), [0]), ("num", StandardScaler(), [1])]
    )
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(x, y)
    return _dump(model, d / "model.joblib")


@clean(
    "skl-pipeline-pickle-p5", "sklearn", "Pipeline(PolynomialFeatures, Ridge), pickle protocol 5"
)
def _pickle5(d: Path) -> str:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    x, y = load_diabetes(return_X_y=True)
    model = make_pipeline(PolynomialFeatures(2), Ridge()).fit(x, y)
    (d / "model.pkl").write_bytes(pickle.dumps(model, protocol=5))
    return "model.pkl"


@clean("skl-tree-pickle-p2", "sklearn", "DecisionTreeClassifier, pickle protocol 2 (_codecs bytes)")
def _pickle2(d: Path) -> str:
    from sklearn.tree import DecisionTreeClassifier

    x, y = _iris()
    model = DecisionTreeClassifier(random_state=SEED).fit(x, y)
    (d / "model.pkl").write_bytes(pickle.dumps(model, protocol=2))
    return "model.pkl"


# --- numpy -------------------------------------------------------------------------------------


@clean("npy-float32", "numpy", "np.save of a float32 matrix")
def _npy(d: Path) -> str:
    import numpy as np

    np.save(d / "embeddings.npy", np.random.default_rng(SEED).normal(size=(64, 32)).astype("f4"))
    return "embeddings.npy"


@clean("npy-int64-fortran", "numpy", "np.save of a Fortran-ordered int64 array")
def _npy_f(d: Path) -> str:
    import numpy as np

    np.save(d / "index.npy", np.asfortranarray(np.arange(600, dtype=np.int64).reshape(20, 30)))
    return "index.npy"


@clean("npy-structured", "numpy", "np.save of a structured (record) dtype")
def _npy_rec(d: Path) -> str:
    import numpy as np

    arr = np.zeros(10, dtype=[("id", "<i4"), ("score", "<f8"), ("tag", "S8")])
    np.save(d / "records.npy", arr)
    return "records.npy"


@clean("npz-savez", "numpy", "np.savez of several arrays")
def _npz(d: Path) -> str:
    import numpy as np

    np.savez(d / "arrays.npz", w=np.ones((8, 8), dtype="f4"), b=np.zeros(8), steps=np.arange(5))
    return "arrays.npz"


@clean("npz-compressed", "numpy", "np.savez_compressed")
def _npz_c(d: Path) -> str:
    import numpy as np

    rng = np.random.default_rng(SEED)
    np.savez_compressed(d / "arrays.npz", w=rng.normal(size=(32, 32)), mask=np.eye(32, dtype=bool))
    return "arrays.npz"


# --- PyTorch -----------------------------------------------------------------------------------


def _torch():  # type: ignore[no-untyped-def]
    torch = need("torch")
    torch.manual_seed(SEED)  # type: ignore[attr-defined]
    return torch


def _small_cnn():  # type: ignore[no-untyped-def]
    torch = _torch()
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


@clean("pt-state-dict", "pytorch", "torch.save(model.state_dict()) (zip format)")
def _pt_sd(d: Path) -> str:
    torch = _torch()
    torch.save(_small_cnn().state_dict(), d / "model.pt")
    return "model.pt"


@clean("pt-full-module", "pytorch", "torch.save(nn.Sequential(...)) - whole module, zip format")
def _pt_full(d: Path) -> str:
    torch = _torch()
    torch.save(_small_cnn(), d / "model.pth")
    return "model.pth"


@clean("pt-legacy-state-dict", "pytorch", "torch.save(..., _use_new_zipfile_serialization=False)")
def _pt_legacy(d: Path) -> str:
    torch = _torch()
    torch.save(_small_cnn().state_dict(), d / "model.pth", _use_new_zipfile_serialization=False)
    return "model.pth"


@clean("pt-checkpoint", "pytorch", "training checkpoint: model + Adam state + epoch/loss")
def _pt_ckpt(d: Path) -> str:
    torch = _torch()
    model = _small_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model(torch.randn(2, 3, 8, 8)).sum()
    loss.backward()
    opt.step()
    ckpt = {
        "epoch": 3,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": opt.state_dict(),
        "loss": float(loss),
        "config": {"lr": 1e-3, "arch": "small-cnn", "classes": ["a", "b"]},
    }
    torch.save(ckpt, d / "last.ckpt")
    return "last.ckpt"


@clean("pt-hf-bin", "pytorch", "HF-style pytorch_model.bin: TransformerEncoderLayer state dict")
def _pt_hf(d: Path) -> str:
    torch = _torch()
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64)
    torch.save(layer.state_dict(), d / "pytorch_model.bin")
    return "pytorch_model.bin"


@clean("pt-mixed-dtypes", "pytorch", "state dict of float16 / bfloat16 / int8 / bool tensors")
def _pt_dtypes(d: Path) -> str:
    torch = _torch()
    sd = {
        "w16": torch.randn(8, 8).half(),
        "wbf16": torch.randn(8, 8).bfloat16(),
        "q": torch.randint(-128, 127, (16,), dtype=torch.int8),
        "mask": torch.ones(4, dtype=torch.bool),
    }
    torch.save(sd, d / "weights.pt")
    return "weights.pt"


@clean("pt-tied-views", "pytorch", "tied weights and a view sharing one storage")
def _pt_tied(d: Path) -> str:
    torch = _torch()
    emb = torch.randn(16, 8)
    sd = {"embed.weight": emb, "lm_head.weight": emb, "first_rows": emb[:4]}
    torch.save(sd, d / "model.pt")
    return "model.pt"


# --- safetensors -------------------------------------------------------------------------------


@clean("st-numpy", "safetensors", "safetensors.numpy.save_file with metadata")
def _st_np(d: Path) -> str:
    need("safetensors")
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(SEED)
    tensors = {"w": rng.normal(size=(16, 16)).astype("f4"), "q": np.arange(64, dtype=np.int8)}
    save_file(tensors, str(d / "model.safetensors"), metadata={"format": "np"})
    return "model.safetensors"


@clean("st-torch-bf16", "safetensors", "safetensors.torch.save_file, bf16 + f32, format=pt")
def _st_torch(d: Path) -> str:
    need("safetensors")
    torch = _torch()
    from safetensors.torch import save_file

    tensors = {"embed.weight": torch.randn(32, 16).bfloat16(), "norm.weight": torch.ones(16)}
    save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
    return "model.safetensors"


# --- ONNX --------------------------------------------------------------------------------------


def _onnx_mlp():  # type: ignore[no-untyped-def]
    onnx = need("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(SEED)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 16)).astype("f4"), "w1")
    b1 = numpy_helper.from_array(np.zeros(16, dtype="f4"), "b1")
    w2 = numpy_helper.from_array(rng.normal(size=(16, 3)).astype("f4"), "w2")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
        [w1, b1, w2],
    )
    model = helper.make_model(
        graph, producer_name="bench", opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)  # type: ignore[attr-defined]
    return onnx, model


@clean("onnx-mlp", "onnx", "onnx.helper MLP (MatMul/Add/Relu/Softmax), initializers inline")
def _onnx(d: Path) -> str:
    onnx, model = _onnx_mlp()
    onnx.save_model(model, str(d / "model.onnx"))
    return "model.onnx"


@clean("onnx-external-data", "onnx", "same MLP saved with external data next to it (directory)")
def _onnx_ext(d: Path) -> None:
    onnx, model = _onnx_mlp()
    onnx.save_model(
        model,
        str(d / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    return None


@clean("onnx-ml-domain", "onnx", "ai.onnx.ml operators (Normalizer + LinearClassifier)")
def _onnx_ml(d: Path) -> str:
    onnx = need("onnx")
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Normalizer", ["x"], ["xn"], domain="ai.onnx.ml", norm="L2"),
        helper.make_node(
            "LinearClassifier",
            ["xn"],
            ["label", "scores"],
            domain="ai.onnx.ml",
            coefficients=[0.1] * 8,
            intercepts=[0.0, 0.0],
            classlabels_ints=[0, 1],
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 2]),
        ],
    )
    model = helper.make_model(
        graph,
        producer_name="skl2onnx",
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)],
    )
    model.ir_version = 8
    onnx.save_model(model, str(d / "classifier.onnx"))  # type: ignore[attr-defined]
    return "classifier.onnx"


# --- GGUF --------------------------------------------------------------------------------------

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)
QWEN_TOOLS = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}"
    "{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}"
    '{{- "\\n\\n# Tools\\n\\n<tools>" }}{%- for tool in tools %}{{- "\\n" }}'
    '{{- tool | tojson }}{%- endfor %}{{- "\\n</tools><|im_end|>\\n" }}{%- endif %}'
    "{%- for message in messages %}{%- if message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)


def _gguf(d: Path, name: str, template: str, arch: str = "llama") -> str:
    gguf = need("gguf")
    import numpy as np

    path = d / name
    writer = gguf.GGUFWriter(path, arch)  # type: ignore[attr-defined]
    writer.add_name(f"tiny-{arch}")
    writer.add_context_length(4096)
    writer.add_embedding_length(8)
    writer.add_block_count(1)
    writer.add_tokenizer_model("gpt2")
    tokens = ["<s>", "</s>", "<unk>", *[f"tok{i}" for i in range(29)]]
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types([1] * len(tokens))
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    writer.add_chat_template(template)
    rng = np.random.default_rng(SEED)
    writer.add_tensor("token_embd.weight", rng.normal(size=(len(tokens), 8)).astype("f4"))
    writer.add_tensor("output_norm.weight", np.ones(8, dtype="f4"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return name


@clean("gguf-llama3", "gguf", "gguf.GGUFWriter, Llama-3-Instruct chat template, token arrays")
def _gguf_llama3(d: Path) -> str:
    return _gguf(d, "llama3-tiny.gguf", LLAMA3)


@clean("gguf-chatml", "gguf", "ChatML (Qwen2) chat template")
def _gguf_chatml(d: Path) -> str:
    return _gguf(d, "qwen-tiny.gguf", CHATML, "qwen2")


@clean("gguf-mistral", "gguf", "Mistral-Instruct template (raise_exception)")
def _gguf_mistral(d: Path) -> str:
    return _gguf(d, "mistral-tiny.gguf", MISTRAL)


@clean("gguf-qwen-tools", "gguf", "Qwen2.5 tool-calling template (tojson, message.role)")
def _gguf_tools(d: Path) -> str:
    return _gguf(d, "qwen-tools.gguf", QWEN_TOOLS, "qwen2")


# --- Keras / HDF5 ------------------------------------------------------------------------------


def _keras():  # type: ignore[no-untyped-def]
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = need("keras")
    keras.utils.set_random_seed(SEED)  # type: ignore[attr-defined]
    return keras


@clean("keras-sequential", "keras", "keras.Sequential(Dense, Dropout, Dense).save('.keras')")
def _keras_seq(d: Path) -> str:
    keras = _keras()
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(d / "model.keras")
    return "model.keras"


@clean("keras-functional", "keras", "functional model (Conv1D, pooling, concat), .keras")
def _keras_fn(d: Path) -> str:
    keras = _keras()
    inp = keras.Input((16, 2))
    a = keras.layers.Conv1D(4, 3, activation="relu")(inp)
    a = keras.layers.GlobalAveragePooling1D()(a)
    b = keras.layers.Flatten()(inp)
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    keras.Model(inp, out).save(d / "model.keras")
    return "model.keras"


@clean("keras-legacy-h5", "keras", "keras Sequential saved in the legacy HDF5 format (.h5)")
def _keras_h5(d: Path) -> str:
    keras = _keras()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.save(d / "model.h5")
    return "model.h5"


@clean("h5-datasets", "hdf5", "h5py file of datasets, groups and attributes")
def _h5(d: Path) -> str:
    h5py = need("h5py")
    import numpy as np

    with h5py.File(d / "features.h5", "w") as f:  # type: ignore[attr-defined]
        grp = f.create_group("train")
        grp.create_dataset("x", data=np.arange(100, dtype="f4").reshape(10, 10))
        grp.create_dataset("y", data=np.arange(10), compression="gzip")
        f.attrs["description"] = "feature store export"
    return "features.h5"


# --- sidecar files of model repositories -----------------------------------------------------

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "rms_norm_eps": 1e-05,
    "torch_dtype": "bfloat16",
    "vocab_size": 128256,
}


def _text(d: Path, name: str, content: str) -> str:
    (d / name).write_text(content)
    return name


@clean("txt-config-json", "text", "HF config.json")
def _cfg(d: Path) -> str:
    return _text(d, "config.json", json.dumps(CONFIG, indent=2))


@clean("txt-tokenizer-config", "text", "HF tokenizer_config.json with a Llama-3 chat_template")
def _tok(d: Path) -> str:
    content = {"bos_token": "<|begin_of_text|>", "chat_template": LLAMA3, "model_max_length": 8192}
    return _text(d, "tokenizer_config.json", json.dumps(content, indent=2))


@clean("txt-generation-config", "text", "HF generation_config.json")
def _gen(d: Path) -> str:
    return _text(d, "generation_config.json", json.dumps({"do_sample": True, "top_p": 0.9}))


@clean("txt-labels", "text", "labels.txt starting 'cat\\ndog' (reads like a protocol-0 GLOBAL)")
def _labels(d: Path) -> str:
    return _text(d, "labels.txt", "cat\ndog\nbird\nfish\nhorse\n")


@clean("txt-vocab", "text", "BERT-style vocab.txt")
def _vocab(d: Path) -> str:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "of", "and", "in", "to"]
    return _text(d, "vocab.txt", "\n".join(words) + "\n")


@clean("txt-merges", "text", "GPT-2 style merges.txt")
def _merges(d: Path) -> str:
    return _text(d, "merges.txt", "#version: 0.2\nĠ t\nĠ a\nh e\ni n\nr e\n")


@clean("txt-model-card", "text", "README.md model card with YAML front matter")
def _card(d: Path) -> str:
    card = "---\nlicense: apache-2.0\nlibrary_name: transformers\n---\n# Tiny model\n\nUse it.\n"
    return _text(d, "README.md", card)


@clean("txt-safetensors-index", "text", "model.safetensors.index.json (sharded checkpoint index)")
def _index(d: Path) -> str:
    index = {
        "metadata": {"total_size": 16},
        "weight_map": {"embed.weight": "model-00001-of-00002.safetensors"},
    }
    return _text(d, "model.safetensors.index.json", json.dumps(index))


# --- bundles -----------------------------------------------------------------------------------


@clean("zip-sklearn-bundle", "archive", "zip of a joblib model, README and requirements.txt")
def _bundle(d: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        name = _logreg(Path(tmp))
        model = (Path(tmp) / name).read_bytes()
    members = [
        Member("model/model.joblib", model),
        Member("model/README.md", b"# Iris classifier\n"),
        Member("model/requirements.txt", b"scikit-learn>=1.4\n"),
    ]
    with (d / "bundle.zip").open("wb") as out:
        write_zip(out, members)
    return "bundle.zip"


@clean("tar-gz-hf-dir", "archive", "model.tar.gz of config.json + safetensors + tokenizer config")
def _tar(d: Path) -> str:
    import gzip

    with tempfile.TemporaryDirectory() as tmp:
        st = _st_np(Path(tmp))
        weights = (Path(tmp) / st).read_bytes()
    files = [
        ("model/config.json", json.dumps(CONFIG).encode()),
        ("model/model.safetensors", weights),
        ("model/tokenizer_config.json", json.dumps({"chat_template": CHATML}).encode()),
    ]
    (d / "model.tar.gz").write_bytes(gzip.compress(tar_bytes(files), mtime=0))
    return "model.tar.gz"


# --- more real-world shapes ----------------------------------------------------------------------


@clean("skl-function-transformer", "sklearn", "Pipeline(FunctionTransformer(np.log1p), Ridge)")
def _ft(d: Path) -> str:
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, y = load_diabetes(return_X_y=True)
    model = make_pipeline(FunctionTransformer(np.abs), FunctionTransformer(np.log1p), Ridge())
    return _dump(model.fit(x, y), d / "model.joblib")


@clean("pandas-dataframe-pickle", "sklearn", "pandas DataFrame.to_pickle (feature table)")
def _pandas(d: Path) -> str:
    pd = need("pandas")
    import numpy as np

    frame = pd.DataFrame(  # type: ignore[attr-defined]
        {
            "id": np.arange(5),
            "name": ["a", "b", "c", "d", "e"],
            "when": pd.date_range("2026-01-01", periods=5),  # type: ignore[attr-defined]
            "score": np.linspace(0, 1, 5),
        }
    )
    frame.to_pickle(d / "features.pkl")
    return "features.pkl"


@clean(
    "pt-checkpoint-namespace",
    "pytorch",
    "fairseq-style checkpoint: argparse.Namespace args + numpy scalar metric + state dict",
)
def _pt_ns(d: Path) -> str:
    import argparse

    import numpy as np

    torch = _torch()
    ckpt = {
        "args": argparse.Namespace(arch="small-cnn", lr=[0.001], max_epoch=10),
        "best_acc": np.float64(0.913),
        "model": _small_cnn().state_dict(),
    }
    torch.save(ckpt, d / "checkpoint_best.pt")
    return "checkpoint_best.pt"


@clean("pt-torchscript", "pytorch", "torch.jit.save of a scripted module (TorchScript archive)")
def _pt_jit(d: Path) -> str:
    torch = _torch()
    scripted = torch.jit.script(_small_cnn().eval())
    torch.jit.save(scripted, str(d / "model.pt"))
    return "model.pt"


@clean("pt-export-pt2", "pytorch", "torch.export.save of an ExportedProgram (.pt2)")
def _pt_export(d: Path) -> str:
    torch = _torch()
    model = _small_cnn().eval()
    program = torch.export.export(model, (torch.randn(1, 3, 8, 8),))
    torch.export.save(program, str(d / "model.pt2"))
    return "model.pt2"


@clean("zip-lzma-bundle", "archive", "zipfile.ZIP_LZMA bundle of a safetensors file and config")
def _zip_lzma(d: Path) -> str:
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        weights = (Path(tmp) / _st_np(Path(tmp))).read_bytes()
    with zipfile.ZipFile(d / "bundle.zip", "w", compression=zipfile.ZIP_LZMA) as zf:
        zf.writestr("model/config.json", json.dumps(CONFIG))
        zf.writestr("model/model.safetensors", weights)
    return "bundle.zip"
