"""Translate template.yaml with the SAM translator (run with the SAM CLI's own Python, which has it) and print
the CloudFormation resources whose logical ids start with a prefix, as JSON. Used by tests/aws to deploy the
schedule exactly as SAM would generate it.

    .venv/tools/bin/python tests/aws/sam_translate.py TrainingStateMachineNightly
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    def load(self):
        return {}


def main() -> None:
    prefix = sys.argv[1]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "template.yaml")) as handle:
        template = yaml_parse(handle.read())
    for resource in template["Resources"].values():  # code locations are irrelevant here
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://placeholder/code.zip"
    parameters = {
        "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:placeholder",
        "TrainingImageUri": "000000000000.dkr.ecr.us-east-1.amazonaws.com/placeholder:latest",
    }
    translated = transform(template, parameters, _NoManagedPolicies())
    picked = {name: r for name, r in translated["Resources"].items() if name.startswith(prefix)}
    print(json.dumps({"Parameters": translated.get("Parameters", {}), "Resources": picked}))


if __name__ == "__main__":
    main()
