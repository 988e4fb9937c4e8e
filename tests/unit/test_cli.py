"""The ``dummi`` command's parser loads light: the training image's build stage runs ``python -m dummi.cli
export-model`` with numpy, onnx, safetensors and pydantic-settings alone, and ``dummi run`` sets the math
libraries' thread counts before numpy loads (``dummi.cli``'s docstring)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# what the build stage lacks, and numpy (loaded only once a command runs)
NOT_BEFORE_A_COMMAND = (
    "numpy",
    "pg8000",
    "fastapi",
    "starlette",
    "boto3",
    "botocore",
    "uvicorn",
    "faiss",
    "onnxruntime",
    "mangum",
    "aws_lambda_powertools",
    "cryptography",
)
SCRIPT = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("loaded before the command runs: " + name)
sys.meta_path.insert(0, Block())
sys.argv = ["dummi", *{argv!r}]
runpy.run_module("dummi.cli", run_name="__main__")
"""


@pytest.mark.parametrize("argv", [["--help"], ["export-model", "--help"], ["keys", "create", "--help"]])
def test_python_m_dummi_cli_parses_without_the_server_stack(argv):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(blocked=NOT_BEFORE_A_COMMAND, argv=argv)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: dummi {' '.join(argv[:-1])}".rstrip() + " ["), done.stdout


def test_a_command_that_is_not_one_is_refused_with_the_list():
    done = subprocess.run([sys.executable, "-m", "dummi.cli", "nope"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid choice: 'nope'" in done.stderr and "'export-model'" in done.stderr, done.stderr
