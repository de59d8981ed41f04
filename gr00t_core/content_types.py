"""What the pipeline may write into a VAMS asset, and the S3 content type each file is written with.

VAMS's process-outputs step heads every object under the run's ``files/``, ``previews/`` and ``metadata/``
prefixes and checks the key's extension and the object's ``ContentType`` against two block lists; one refused
object and nothing under that prefix is registered, while the workflow still reports success
(tests/gr00t_aws/test_content_types.py restates those lists and cites the VAMS source). So every object is
written with an explicit content type that is never on VAMS's list, and a file of a kind VAMS refuses is not
written at all: giving it a neutral type would slip it past a check meant to keep it out of the asset.

Names follow VAMS's own reading: the extension is ``os.path.splitext`` of the key (``.complete`` has none),
compared here without regard to case (VAMS 2.5 compares exactly; ``.EXE`` is still an executable).
"""

from __future__ import annotations

import posixpath

DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Suffix -> content type for what checkpoints, reports and datasets hold. Anything else is opaque bytes.
_CONTENT_TYPES = {
    ".safetensors": DEFAULT_CONTENT_TYPE,
    ".pt": DEFAULT_CONTENT_TYPE,
    ".pth": DEFAULT_CONTENT_TYPE,
    ".bin": DEFAULT_CONTENT_TYPE,
    ".ckpt": DEFAULT_CONTENT_TYPE,
    ".npy": DEFAULT_CONTENT_TYPE,
    ".npz": DEFAULT_CONTENT_TYPE,
    ".json": "application/json",
    ".jsonl": "application/jsonl",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".parquet": "application/vnd.apache.parquet",
    ".pdf": "application/pdf",
    ".gz": "application/gzip",
    ".tar": "application/x-tar",
    ".zip": "application/zip",
}

# Extensions VAMS 2.5 refuses by name (common/constants.py UNALLOWED_FILE_EXTENSION_LIST).
_REFUSED_BY_NAME = frozenset({
    ".jar", ".java", ".com", ".php", ".reg", ".pif", ".bak", ".dll", ".exe", ".nat", ".cmd", ".lnk", ".docm",
    ".vbs", ".bat",
})
# Kinds whose own content type VAMS refuses (UNALLOWED_MIME_LIST: text/x-python-source, application/x-python-code,
# application/x-sh, application/javascript, application/x-powershell, application/x-sql, application/x-ini,
# application/x-inf, the .docx type); earlier VAMS releases refused these extensions by name as well.
_REFUSED_BY_TYPE = frozenset({".py", ".pyc", ".sh", ".js", ".ps1", ".sql", ".ini", ".inf", ".docx"})
REFUSED_EXTENSIONS = _REFUSED_BY_NAME | _REFUSED_BY_TYPE


def extension(key: str) -> str:
    """The lower-cased extension of the key's last segment as VAMS splits it (``""`` for ``.complete``)."""
    return posixpath.splitext(key)[1].lower()


def content_type(key: str) -> str:
    """The ``ContentType`` to write ``key`` with (a path or S3 key; only the file name counts)."""
    return _CONTENT_TYPES.get(extension(key), DEFAULT_CONTENT_TYPE)


def refused_by_vams(key: str) -> bool:
    """True for a file VAMS would refuse to register, which would keep the whole run's output out of the asset."""
    return extension(key) in REFUSED_EXTENSIONS
