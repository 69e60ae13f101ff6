"""An output folder behind an fsspec URL (``gs://``, ``memory://``, ``file://``...).

Object stores have no rename and no append, so the commit point differs from a local
folder's: each part is uploaded whole as its own object first, then its record is
written as another small object (a single object write is atomic on GCS; see
``manifest`` for how the records are folded into the manifest object). A job killed
between the two leaves a part object no record lists; ``--resume`` deletes such objects
before it writes again, so readers that trust the manifest see every row exactly once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lanza.errors import BatchError, InvalidInputError

# What a batch job writes into its output, and nothing else is removed by --overwrite.
PART = re.compile(r"^(?:_errors/)?part-(\d{5})\.[a-z]+$")
PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs", "az": "adlfs", "abfs": "adlfs"}


class RemoteFolder:
    """Parts, error files and the manifest as objects under one fsspec URL."""

    def __init__(self, url: str, fs: Any, root: str) -> None:
        self.url = url
        self.fs = fs
        self.root = root.rstrip("/")

    def __str__(self) -> str:
        return self.url

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def names(self) -> list[str]:
        """Every object under the folder, relative to it."""
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise BatchError(f"The output {self.url} cannot be listed: {exc}") from exc
        prefix = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        return sorted(p.removeprefix(prefix) for p in found if p.startswith(prefix))

    def read(self, name: str) -> bytes | None:
        """An object's bytes, or ``None`` when there is none."""
        try:
            data: bytes = self.fs.cat_file(self._path(name))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise BatchError(f"{self.url}/{name} cannot be read: {exc}") from exc
        return data

    def read_all(self, names: list[str]) -> list[bytes]:
        """Several objects' bytes, fetched concurrently where the filesystem can."""
        if not names:
            return []
        paths = [self.fs._strip_protocol(self._path(name)) for name in names]
        try:
            found: dict[str, bytes] = self.fs.cat(paths)
            return [found[path] for path in paths]
        except Exception as exc:
            raise BatchError(f"The records under {self.url} cannot be read: {exc}") from exc

    def write(self, name: str, data: bytes) -> None:
        """Write one object whole, in a single upload."""
        try:
            self.fs.pipe_file(self._path(name), data)
        except Exception as exc:
            raise BatchError(f"{self.url}/{name} cannot be written: {exc}") from exc

    def upload(self, name: str, local: Path) -> None:
        """Upload a finished local file as one object."""
        try:
            self.fs.put_file(str(local), self._path(name))
        except Exception as exc:
            raise BatchError(f"{self.url}/{name} cannot be written: {exc}") from exc

    def remove(self, names: list[str]) -> None:
        """Delete objects, in bulk where the filesystem can; ones already gone are fine."""
        if not names:
            return
        try:
            self.fs.rm([self._path(name) for name in names])
            return
        except FileNotFoundError:
            pass  # some were gone: delete the rest one by one
        except Exception as exc:
            raise BatchError(f"Objects under {self.url} cannot be deleted: {exc}") from exc
        for name in names:
            try:
                self.fs.rm_file(self._path(name))
            except FileNotFoundError:
                continue
            except Exception as exc:
                raise BatchError(f"{self.url}/{name} cannot be deleted: {exc}") from exc

    def parts(self, start: int = 0) -> list[str]:
        """Part and error objects numbered ``start`` or above."""
        return [n for n in self.names() if (m := PART.match(n)) and int(m.group(1)) >= start]


def output_folder(output: str) -> Path | RemoteFolder:
    """A local folder for a plain path, a ``RemoteFolder`` for a URL; clear error otherwise."""
    if "://" not in output:
        return Path(output).expanduser()
    # Imported here, not with the module: a server imports this module at start.
    import fsspec  # type: ignore[import-untyped]

    protocol = output.split("://", 1)[0]
    try:
        fs, root = fsspec.core.url_to_fs(output)
    except ImportError as exc:
        package = PACKAGES.get(protocol, f"the fsspec implementation of {protocol}://")
        raise InvalidInputError(
            f"Writing to {protocol}:// needs {package}: pip install 'lanza[cloud]'."
            if package == "gcsfs"
            else f"Writing to {protocol}:// needs {package}; install it with pip."
        ) from exc
    except ValueError as exc:
        raise InvalidInputError(
            f"The output {output} has an unknown protocol '{protocol}'; "
            "use a local folder or a URL such as gs://bucket/path/."
        ) from exc
    if protocol == "file":  # a local folder: keep its atomic renames
        return Path(root)
    return RemoteFolder(output, fs, root)
