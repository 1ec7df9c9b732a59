"""fleetsim records every AWS call as service:Action, whatever the protocol (JSON, query, REST/S3)."""
from __future__ import annotations

import io

import pytest

from fleetsim.server import request_action, request_api_call, s3_operation
from fleetsim.testing import fleetsim_fixture

small_fleet = fleetsim_fixture({"groups": [{"count": 2, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "dev"}}]}, seed=1, time_scale=600)

SIGNED = "AWS4-HMAC-SHA256 Credential=fleetsim/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"


def environ(method="GET", path="/", query="", service="s3", **extra) -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_AUTHORIZATION": SIGNED.format(service=service),
            "wsgi.input": io.BytesIO(b""), **extra}


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/", "", "ListBuckets"),
        ("PUT", "/ledger", "", "CreateBucket"),
        ("HEAD", "/ledger", "", "HeadBucket"),
        ("GET", "/ledger", "list-type=2&prefix=runs%2F", "ListObjectsV2"),
        ("GET", "/ledger", "prefix=runs", "ListObjects"),
        ("GET", "/ledger", "location", "GetBucketLocation"),
        ("PUT", "/ledger", "encryption", "PutBucketEncryption"),
        ("POST", "/ledger", "delete", "DeleteObjects"),
        ("PUT", "/ledger/runs/a/b.json", "", "PutObject"),
        ("GET", "/ledger/runs/a/b.json", "", "GetObject"),
        ("HEAD", "/ledger/runs/a/b.json", "", "HeadObject"),
        ("DELETE", "/ledger/runs/a/b.json", "", "DeleteObject"),
        ("PUT", "/ledger/k", "tagging", "PutObjectTagging"),
        ("POST", "/ledger/k", "uploads", "CreateMultipartUpload"),
        ("PUT", "/ledger/k", "partNumber=1&uploadId=x", "UploadPart"),
    ],
)
def test_s3_operations_are_named_like_the_api(method, path, query, operation):
    assert s3_operation(environ(method, path, query)) == operation


def test_copy_object_is_told_apart_from_put_object():
    assert s3_operation(environ("PUT", "/b/k", HTTP_X_AMZ_COPY_SOURCE="/b/other")) == "CopyObject"


def test_form_encoded_requests_keep_their_body_for_moto():
    body = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At&Message=hi"
    env = environ("POST", "/", service="sns", CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8",
                  CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)})
    assert request_action(env) == ("Publish", False)
    assert request_api_call(env) == "sns:Publish"
    assert env["wsgi.input"].read() == body


def test_json_requests_take_the_action_from_the_target_header():
    env = environ("POST", "/", service="ssm", HTTP_X_AMZ_TARGET="AmazonSSM.SendCommand")
    assert request_api_call(env) == "ssm:SendCommand"
    unsigned = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_X_AMZ_TARGET": "AmazonSSM.ListCommands", "wsgi.input": io.BytesIO(b"")}
    assert request_api_call(unsigned) == "ssm:ListCommands"


def test_presigned_s3_urls_are_attributed_to_s3():
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/b/k", "QUERY_STRING": "X-Amz-Credential=fleetsim%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0",
           "wsgi.input": io.BytesIO(b"")}
    assert request_api_call(env) == "s3:GetObject"


@pytest.mark.fleetsim
def test_every_service_and_action_is_counted_and_reset(small_fleet):
    small_fleet.reset_stats()
    ssm, s3, sns, ec2, sts = (small_fleet.client(name) for name in ("ssm", "s3", "sns", "ec2", "sts"))
    ssm.describe_instance_information(MaxResults=5)
    ssm.describe_instance_information(MaxResults=5)
    ec2.describe_instances()
    s3.create_bucket(Bucket="api-calls")
    s3.put_object(Bucket="api-calls", Key="runs/a.json", Body=b"{}", ServerSideEncryption="AES256")
    s3.head_object(Bucket="api-calls", Key="runs/a.json")
    s3.get_object(Bucket="api-calls", Key="runs/a.json")["Body"].read()
    s3.list_objects_v2(Bucket="api-calls", Prefix="runs/")
    topic = sns.create_topic(Name="api-calls")["TopicArn"]
    sns.publish(TopicArn=topic, Subject="s", Message="m")
    sts.get_caller_identity()
    assert small_fleet.api_calls() == {
        "ec2:DescribeInstances": 1,
        "s3:CreateBucket": 1,
        "s3:GetObject": 1,
        "s3:HeadObject": 1,
        "s3:ListObjectsV2": 1,
        "s3:PutObject": 1,
        "sns:CreateTopic": 1,
        "sns:Publish": 1,
        "ssm:DescribeInstanceInformation": 2,
        "sts:GetCallerIdentity": 1,
    }
    assert small_fleet.stats()["DescribeInstanceInformation"] == 2  # the per-action view is unchanged
    small_fleet.reset_stats()
    assert small_fleet.api_calls() == {}
