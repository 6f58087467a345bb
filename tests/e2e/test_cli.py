"""The CLI end to end, in process: outputs, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signoff.cli.app import run

SHA = "cd" * 32


class Cli:
    """Runs ``signoff --db DB --as alice ...`` and captures what it printed."""

    def __init__(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = db
        self.capsys = capsys

    def __call__(self, *args: str, actor: str = "alice") -> tuple[int, str, str]:
        code = run(["--db", str(self.db), "--as", actor, *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> object:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "reg" / "registry.db", capsys)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    (directory / "sub").mkdir(parents=True)
    (directory / "weights.bin").write_bytes(b"\x01" * 4096)
    (directory / "sub" / "config.json").write_text('{"layers": 2}')
    return directory


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_full_flow(cli: Cli, model_dir: Path, tmp_path: Path) -> None:
    assert cli("init")[0] == 0
    code, out, _ = cli(
        "model",
        "create",
        "fraud",
        "--risk",
        "high",
        "--team",
        "risk",
        "--tag",
        "domain=payments",
        "--intended-use",
        "score card payments",
    )
    assert code == 0 and "Created model fraud" in out
    models = cli.json("model", "list")
    assert isinstance(models, list) and models[0]["name"] == "fraud"
    assert models[0]["tags"] == {"domain": "payments"}

    code, out, err = cli(
        "version",
        "register",
        "fraud",
        str(model_dir),
        "--dataset",
        f"tx=s3://data/tx.parquet@{SHA}",
        "--code-repo",
        "https://git.example/fraud",
        "--code-commit",
        "abcdef1",
        "--run-uri",
        "mlflow://runs/1",
        "--meta",
        "auc=0.9",
    )
    assert code == 0, err
    assert "Registered fraud@1 (candidate)" in out
    (model_dir / "weights.bin").write_bytes(b"\x02" * 4096)
    v2 = cli.json("version", "register", "fraud", str(model_dir), "--parent", "fraud@1")
    assert isinstance(v2, dict)
    assert v2["number"] == 2 and v2["lineage"]["parents"] == ["fraud@1"]
    assert {f["path"] for f in v2["artifact"]["files"]} == {"weights.bin", "sub/config.json"}

    assert cli("alias", "set", "fraud@1", "champion")[0] == 0
    shown = cli.json("version", "show", "fraud@champion")
    assert isinstance(shown, dict)
    assert shown["number"] == 1 and shown["aliases"] == ["champion"]
    assert shown["lineage"]["datasets"][0]["sha256"] == SHA
    assert shown["lineage"]["code"] == {"repo": "https://git.example/fraud", "commit": "abcdef1"}
    assert shown["metadata"] == {"auc": "0.9"}
    move = cli.json("alias", "set", "fraud@2", "champion")
    assert isinstance(move, dict) and (move["from"], move["to"]) == (1, 2)
    history = cli.json("alias", "history", "fraud")
    assert isinstance(history, list) and len(history) == 2

    versions = cli.json("version", "list", "fraud")
    assert isinstance(versions, list)
    assert [(v["number"], v["stage"]) for v in versions] == [(1, "candidate"), (2, "candidate")]
    code, out, _ = cli("model", "show", "fraud")
    assert code == 0 and "risk tier:    high" in out and "2 (candidate, champion)" in out
    code, out, _ = cli("version", "list", "fraud")
    assert code == 0 and "fraud@2" in out


def test_artifact_digest_and_verify(cli: Cli, model_dir: Path) -> None:
    digest = cli.json("artifact", "digest", str(model_dir))
    assert isinstance(digest, dict) and len(digest["root_digest"]) == 64
    code, out, _ = cli("artifact", "digest", str(model_dir))
    assert code == 0 and f"root sha256:{digest['root_digest']}" in out

    cli("init")
    cli("model", "create", "fraud", "--risk", "limited")
    cli("version", "register", "fraud", str(model_dir))
    code, out, _ = cli("artifact", "verify", "fraud@1", str(model_dir))
    assert code == 0 and out.startswith("OK")

    (model_dir / "weights.bin").write_bytes(b"tampered")
    (model_dir / "sub" / "config.json").unlink()
    (model_dir / "backdoor.py").write_text("import os")
    code, out, _ = cli("artifact", "verify", "fraud@1", str(model_dir))
    assert code == 1
    assert "changed: weights.bin" in out
    assert "missing: sub/config.json" in out
    assert "extra: backdoor.py" in out
    result = cli("artifact", "verify", "fraud@1", str(model_dir), "--json")
    assert result[0] == 1
    report = json.loads(result[1])
    assert report["changed"] == ["weights.bin"] and not report["ok"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("model", "create", "Bad Name", "--risk", "high"), "invalid model name"),
        (("model", "create", "ok", "--risk", "extreme"), "Invalid value"),
        (("model", "show", "ghost"), "model 'ghost' not found"),
        (("version", "show", "fraud@9"), "version fraud@9 not found"),
        (("version", "show", "fraud@staging"), "alias 'staging' of model 'fraud' not found"),
        (("version", "show", "fraud"), "invalid version reference"),
        (("version", "register", "fraud", "/nonexistent/model"), "/nonexistent/model"),
        (
            ("version", "register", "fraud", "{model}", "--dataset", "d=s3://x@123"),
            "malformed sha256",
        ),
        (("version", "register", "fraud", "{model}", "--code-repo", "r"), "go together"),
        (("version", "register", "fraud", "{model}", "--parent", "fraud@4"), "fraud@4 not found"),
        (("model", "create", "fraud", "--risk", "high"), "already exists"),
        (("version", "register", "fraud", "{empty}"), "{empty}"),
        (("version", "register", "fraud", "{link}"), "symlink"),
        (("alias", "set", "fraud@1", "latest"), "built-in"),
        (("nosuchcommand",), "No such command"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    cli: Cli, model_dir: Path, tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    link = tmp_path / "link"
    link.symlink_to(model_dir / "weights.bin")
    cli("init")
    cli("model", "create", "fraud", "--risk", "high")
    cli("version", "register", "fraud", str(model_dir))
    before = cli.json("version", "list", "fraud")
    names = {"{model}": str(model_dir), "{empty}": str(empty), "{link}": str(link)}
    formatted = tuple(names.get(a, a) for a in args)
    code, _, err = cli(*formatted)
    assert code == 2
    assert names.get(expected, expected) in _one_line_error(err)
    assert cli.json("version", "list", "fraud") == before
    assert cli.json("alias", "history", "fraud") == []


def test_commands_without_a_registry(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("model", "list")
    assert code == 2 and "signoff init" in _one_line_error(err)
    assert not cli.db.exists()
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello")
    code = run(["--db", str(not_db), "model", "list"])
    assert code == 2


def test_debug_shows_the_traceback(cli: Cli) -> None:
    code, _, err = cli("--debug", "model", "list")
    assert code == 2 and "Traceback" in err and "error: no signoff registry" in err


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 0
    assert "model" in capsys.readouterr().out


def test_console_script_exit_code_and_stderr(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it (a real process)."""
    result = subprocess.run(
        [sys.executable, "-m", "signoff", "--db", str(tmp_path / "x.db"), "version", "show", "a@1"],
        capture_output=True,
        text=True,
        env={**os.environ, "SIGNOFF_ACTOR": "ci"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().startswith("error: no signoff registry")
    assert len(result.stderr.strip().splitlines()) == 1
