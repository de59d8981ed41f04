"""Reading an asset's small files: missing vs denied vs oversized, and the reader check_meta uses."""

import pytest
from botocore.stub import Stubber

from gr00t_aws.s3_assets import prefix_exists, prefix_reader, read_object
from gr00t_core.errors import AssetError
from tests.aws_env import ASSET_BUCKET, aws_world
from tests.requests_util import offline_client


@pytest.fixture
def s3():
    with aws_world() as world:
        world.clients.s3.put_object(Bucket=ASSET_BUCKET, Key="a/dataset/meta/info.json", Body=b'{"fps": 20}')
        yield world.clients.s3


def test_read_existing_and_missing(s3):
    assert read_object(s3, ASSET_BUCKET, "a/dataset/meta/info.json") == b'{"fps": 20}'
    assert read_object(s3, ASSET_BUCKET, "a/dataset/meta/nope.json") is None


def test_oversized_files_are_refused_unread(s3):
    with pytest.raises(AssetError, match=r"s3://vams-asset-bucket/a/dataset/meta/info.json is 11 bytes, more than the 5 bytes"):
        read_object(s3, ASSET_BUCKET, "a/dataset/meta/info.json", max_bytes=5)


def test_missing_bucket(s3):
    with pytest.raises(AssetError, match="The asset bucket 'no-such-bucket' does not exist"):
        read_object(s3, "no-such-bucket", "k")


def test_prefix_reader_and_exists(s3):
    read = prefix_reader(s3, ASSET_BUCKET, "a/dataset")
    assert read("meta/info.json") == b'{"fps": 20}' and read("/meta/tasks.jsonl") is None
    assert prefix_exists(s3, ASSET_BUCKET, "a/dataset/") and not prefix_exists(s3, ASSET_BUCKET, "a/other/")


@pytest.mark.parametrize("call", ["get_object", "list_objects_v2"])
def test_access_denied_names_the_object_and_the_permission(call):
    s3 = offline_client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error(call, service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403)
        with pytest.raises(AssetError, match=r"Access denied (reading|listing) s3://bkt/a/.*needs s3:GetObject and s3:ListBucket"):
            if call == "get_object":
                read_object(s3, "bkt", "a/gr00t_config.json")
            else:
                prefix_exists(s3, "bkt", "a/dataset/")
