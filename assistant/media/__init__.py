"""Media: what users send, inspected (`inspect`), kept in a store (`local` directory or
`s3`), downloaded from URLs we did not choose (`download`), moved between stores and
imported from the reference deployment (`moves`)."""

from assistant.errors import MediaRejected, StoreUnavailable
from assistant.media.inspect import (
    AUDIO_EXT,
    DEFAULT_MAX_PIXELS,
    IMAGE_TYPES,
    MAX_ASPECT_RATIO,
    MAX_IMAGE_SIDE,
    ImageInfo,
    derive,
    inspect_image,
    sha256_hex,
    sniff_audio,
)
from assistant.media.local import LocalMediaStore, UrlSigner
from assistant.media.store import MediaStore, content_key

__all__ = [
    "AUDIO_EXT",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_TYPES",
    "ImageInfo",
    "LocalMediaStore",
    "MAX_ASPECT_RATIO",
    "MAX_IMAGE_SIDE",
    "MediaRejected",
    "MediaStore",
    "StoreUnavailable",
    "UrlSigner",
    "content_key",
    "derive",
    "inspect_image",
    "sha256_hex",
    "sniff_audio",
]
