"""S3 for tests: boto3 against moto's server (the `moto_url` fixture starts one)."""

from __future__ import annotations

from typing import Any

import boto3

BUCKET = "catalog-test"


def s3_env(url: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "BUCKET_NAME": bucket,
        "S3_ENDPOINT": url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "S3_REGION": "us-east-1",
        "S3_ADDRESSING_STYLE": "path",
        "S3_MAX_ATTEMPTS": 2,
        "S3_TIMEOUT_SECONDS": 2,
    }


def raw_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
