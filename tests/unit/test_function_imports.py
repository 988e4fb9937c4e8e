"""Each zip function imports with exactly the layers template.yaml gives it (in AWS a missing package fails
its first request): none imports the training image's packages, and a function without the ServingLayer
imports neither numpy nor faiss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TRAINING_ONLY = ("scipy", "sklearn", "torch", "onnxruntime", "tokenizers", "transformers", "sentence_transformers")
SERVING = ("numpy", "faiss")
BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("not in this function's layers: " + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, {folder!r})
import app
print("ok")
"""


class _RefLoader(yaml.SafeLoader):
    """Reads `!Ref X` as "X" (other short tags as None): what the layer lists need."""


_RefLoader.add_constructor("!Ref", lambda loader, node: loader.construct_scalar(node))
_RefLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _zip_functions() -> dict[str, bool]:
    """CodeUri -> whether the function has the ServingLayer."""
    out = {}
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_RefLoader)
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Serverless::Function" or props.get("PackageType") == "Image":
            continue
        out[props["CodeUri"]] = "ServingLayer" in (props.get("Layers") or [])
    return out


def test_the_write_functions_go_without_numpy():
    functions = _zip_functions()
    assert not any(functions[f"functions/{name}/"] for name in ("users", "content", "interactions"))


@pytest.mark.slow  # a fresh interpreter per function
@pytest.mark.parametrize("code_uri", sorted(_zip_functions()))
def test_a_function_imports_only_what_its_layers_hold(code_uri):
    blocked = TRAINING_ONLY + (() if _zip_functions()[code_uri] else SERVING)
    done = subprocess.run(
        [sys.executable, "-c", BLOCK.format(folder=str(ROOT / code_uri), blocked=blocked)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(ROOT / "shared"),
        },
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
