#!/usr/bin/env bash
# LocalStack (Docker) ready-hook: create the artifact bucket and the database secret, pointing the secret at
# the compose file's Postgres. awslocal ships in the LocalStack image.
set -euo pipefail
awslocal s3api create-bucket --bucket dummi-artifacts >/dev/null 2>&1 || true
awslocal secretsmanager create-secret --name dummi/database-local \
  --secret-string '{"username":"dummi","password":"dummi","host":"postgres","port":5432,"dbname":"dummi","sslmode":"disable"}' \
  >/dev/null 2>&1 || true
echo "dummi: bucket dummi-artifacts and secret dummi/database-local are ready"
