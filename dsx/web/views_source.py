"""``/source``: the program's own running code, as the AGPL offers it to everyone who
uses the forms and the dashboard over the network.

The archive is built from the installed packages themselves (whatever this server
actually runs, local changes included), with the licence, and is the default target
of the "Source" link on every page; ``[web] source_url`` points elsewhere instead.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from importlib import metadata
from pathlib import Path

from aiohttp import web

from coordinator import __version__

routes = web.RouteTableDef()
PACKAGES = ("coordinator", "partner_bots", "trust_graph", "dsx")
TOP_FILES = ("LICENSE", "README.md", "pyproject.toml", "CHANGELOG.md")
_cache: dict[str, bytes] = {}


def _files() -> list[tuple[str, Path]]:
    import importlib

    out: list[tuple[str, Path]] = []
    root: Path | None = None
    for name in PACKAGES:
        package_dir = Path(importlib.import_module(name).__file__ or "").parent
        root = package_dir.parent
        for path in sorted(package_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                out.append((f"{name}/{path.relative_to(package_dir).as_posix()}", path))
    for name in TOP_FILES:
        if root is not None and (root / name).is_file():
            out.append((name, root / name))
    if not any(arc == "LICENSE" for arc, _ in out):  # an installed wheel: its licence file
        try:
            dist = metadata.distribution("dsx-coordinator")
            for f in dist.files or ():
                if f.name.startswith("LICENSE"):
                    out.append(("LICENSE", Path(str(f.locate()))))
                    break
        except metadata.PackageNotFoundError:
            pass
    return out


def build_archive() -> bytes:
    buffer = io.BytesIO()
    prefix = f"dsx-coordinator-{__version__}"
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for arcname, path in _files():
            info = tar.gettarinfo(str(path), f"{prefix}/{arcname}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with path.open("rb") as fh:
                tar.addfile(info, fh)
        # The version of what runs, for a build from the unpacked archive (no git history
        # there): setuptools-scm reads it from PKG-INFO.
        pkg_info = _pkg_info().encode()
        info = tarfile.TarInfo(f"{prefix}/PKG-INFO")
        info.size, info.mode = len(pkg_info), 0o644
        tar.addfile(info, io.BytesIO(pkg_info))
    return buffer.getvalue()


def _pkg_info() -> str:
    return f"Metadata-Version: 2.1\nName: dsx-coordinator\nVersion: {__version__}\n"


@routes.get("/source")
async def source(request: web.Request) -> web.Response:
    if "archive" not in _cache:
        _cache["archive"] = await asyncio.to_thread(build_archive)
    return web.Response(
        body=_cache["archive"],
        content_type="application/gzip",
        headers={
            "Content-Disposition": (
                f'attachment; filename="dsx-coordinator-{__version__}-source.tar.gz"'
            )
        },
    )
