"""template.yaml keeps data safe by default: what holds data outlives the stack, the artifact bucket keeps earlier
versions for a while, and what must erase a deleted user's models may delete those versions too."""

from __future__ import annotations

from tests.conftest import read_template

# resource types that hold data a deployment cannot rebuild (caches and queues of work in flight are not)
DATA_TYPES = {
    "AWS::S3::Bucket",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::DynamoDB::Table",
    "AWS::EFS::FileSystem",
}


def test_every_resource_holding_data_outlives_the_stack_and_a_replacement():
    resources = read_template()["Resources"]
    holding = {name: r for name, r in resources.items() if r["Type"] in DATA_TYPES}
    assert "ArtifactsBucket" in holding
    for name, resource in holding.items():
        assert resource.get("DeletionPolicy") in ("Retain", "Snapshot"), name
        assert resource.get("UpdateReplacePolicy") in ("Retain", "Snapshot"), name


def test_the_artifact_bucket_is_versioned_and_expires_old_versions():
    template = read_template()
    bucket = template["Resources"]["ArtifactsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    assert set(rules["ExpireOldVersions"]["NoncurrentVersionExpiration"]) == {"NoncurrentDays"}
    assert rules["ExpireOldVersions"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert template["Parameters"]["ArtifactVersionRetentionDays"]["Default"] == 30


def _actions(statements: list) -> set[str]:
    found = set()
    for statement in statements:
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


def test_what_publishes_models_may_purge_a_deleted_users_model_versions():
    resources = read_template()["Resources"]
    function = resources["TrainingFunction"]["Properties"]["Policies"]
    inline = [
        s for policy in function if isinstance(policy, dict) and "Statement" in policy for s in policy["Statement"]
    ]
    spark = resources["SparkJobRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for statements in (inline, spark):
        assert {"s3:ListBucketVersions", "s3:DeleteObjectVersion"} <= _actions(statements)
