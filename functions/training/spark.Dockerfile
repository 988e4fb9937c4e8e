# An EMR Serverless image with Python 3.12 for the Spark engine's packed environment (make spark-env), for
# releases whose own Python is older (3.9 on EMR 7). Build and push it, then give it as SparkImageUri:
#   docker build -f functions/training/spark.Dockerfile -t dummi-spark . && docker push <ecr>/dummi-spark
# Without it, ship a relocatable CPython 3.12 in the environment instead (make spark-env
# SPARK_PYTHON_HOME=<its folder>; functions/training/spark-python.sh prefers it).
ARG RELEASE=emr-7.11.0
FROM public.ecr.aws/emr-serverless/spark/${RELEASE}:latest
USER root
RUN dnf install -y python3.12 && dnf clean all
USER hadoop:hadoop
