"""S3-compatible media storage (AWS, Scaleway, MinIO, R2) with boto3.

Objects are private; links are presigned GET URLs that expire. Retries and timeouts are
botocore's ("standard" retry mode), configured from the settings.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from assistant.config import ConfigError, Settings
from assistant.errors import StoreUnavailable

log = logging.getLogger(__name__)


class S3MediaStore:
    name = "s3"

    def __init__(self, settings: Settings, client: Any | None = None):
        if not settings.bucket_name:
            raise ConfigError("BUCKET_NAME is not set")
        self.bucket = settings.bucket_name
        self.client = client or boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.aws_access_key_id or None,
            aws_secret_access_key=settings.aws_secret_access_key or None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": settings.s3_addressing_style},
                retries={"mode": "standard", "max_attempts": settings.s3_max_attempts},
                connect_timeout=settings.s3_timeout_seconds,
                read_timeout=settings.s3_timeout_seconds,
            ),
        )

    def check(self) -> None:
        """At start: the bucket exists and the credentials may use it (one clear line)."""
        where = self.client.meta.endpoint_url
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except EndpointConnectionError:
            raise ConfigError(f"S3 unreachable (S3_ENDPOINT={where})") from None
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ConfigError(
                    f"S3 bucket not found (BUCKET_NAME={self.bucket!r} at {where})"
                ) from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise ConfigError(
                    "S3 refused the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
                    f" for BUCKET_NAME={self.bucket!r}): {code}"
                ) from None
            raise ConfigError(f"S3 error for BUCKET_NAME={self.bucket!r}: {code}") from None
        except BotoCoreError as exc:
            raise ConfigError(f"S3 unusable (S3_ENDPOINT={where}): {exc}") from None

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, EndpointConnectionError) as exc:
            raise StoreUnavailable(f"{method}: {exc}") from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                raise StoreUnavailable(f"{method}: {exc}") from exc
            raise

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # PutObject is atomic: readers see the whole object or nothing.
        self._call("put_object", Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        body: bytes = self._call("get_object", Key=key)["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)

    def url(self, key: str, expires_in: int) -> str | None:
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url

    def list_keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            found.extend(obj["Key"] for obj in page.get("Contents", []))
        return found
