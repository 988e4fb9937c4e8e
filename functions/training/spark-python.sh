#!/bin/sh
# The Spark job's Python on EMR Serverless (PYSPARK_PYTHON=./environment/bin/python): the image's interpreter
# (or one shipped in the environment's python/ folder) with the environment's packages and model first.
# make spark-env writes it into the packed environment with the Python version it packed for.
here=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
export PYTHONPATH="$here/lib/site-packages${PYTHONPATH:+:$PYTHONPATH}"
export DUMMI_MODEL_DIR="${DUMMI_MODEL_DIR:-$here/model}"
if [ -x "$here/python/bin/python3" ]; then
  exec "$here/python/bin/python3" "$@"
fi
exec "${DUMMI_SPARK_INTERPRETER:-/usr/bin/python@PYTHON_VERSION@}" "$@"
