"""A PEP 517 build backend in the standard library alone.

setuptools or flit would have pip fetch them from the network in an isolated build; this backend needs nothing, so
`pip install ./clients/python` works offline. It builds a pure-Python wheel of src/erc_demos_client (or, for
`pip install -e`, a wheel holding one .pth file that points at src/) and an sdist of this folder. Files carry a fixed
timestamp: the same sources give the same wheel, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = "erc_demos_client"
TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ConfigSettings = Optional[Dict[str, Any]]


def _project() -> Dict[str, str]:
    """The [project] table's plain string fields (name, version, description, requires-python, license)."""
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    try:
        import tomllib
    except ImportError:  # Python < 3.11: our own file's `key = "value"` lines are all that is read
        section = text.split("\n[project]", 1)[1].split("\n[", 1)[0]
        return dict(re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"', section, re.M))
    return {k: v for k, v in tomllib.loads(text)["project"].items() if isinstance(v, str)}


def _names() -> Tuple[str, str, str]:
    project = _project()
    name, version = project["name"], project["version"]
    stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}"
    return name, version, stem


def _metadata() -> str:
    project = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "license" in project:
        lines.append(f"License: {project['license']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    return "\n".join(lines) + "\n"


def _wheel(wheel_directory: str, files: List[Tuple[str, bytes]]) -> str:
    _, _, stem = _names()
    dist_info = f"{stem}.dist-info"
    files = files + [
        (f"{dist_info}/METADATA", _metadata().encode()),
        (f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: erc_demos_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = []
    for path, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    filename = f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / filename, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files:
            info = zipfile.ZipInfo(path, TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return filename


def _package_files() -> List[Tuple[str, bytes]]:
    found = [p for p in sorted((SRC / PACKAGE).rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return [(p.relative_to(SRC).as_posix(), p.read_bytes()) for p in found]


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None) -> str:
    return _wheel(wheel_directory, _package_files())


def build_editable(wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None) -> str:
    return _wheel(wheel_directory, [(f"{PACKAGE}.pth", (str(SRC) + "\n").encode())])


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    _, _, stem = _names()
    filename = f"{stem}.tar.gz"
    members = [p for p in sorted(ROOT.rglob("*")) if p.is_file() and not ({"__pycache__", "build", "dist"} & set(p.relative_to(ROOT).parts)) and ".egg-info" not in str(p)]
    with tarfile.open(Path(sdist_directory) / filename, "w:gz", format=tarfile.PAX_FORMAT) as sdist:
        for path, data in [(p.relative_to(ROOT).as_posix(), p.read_bytes()) for p in members] + [("PKG-INFO", _metadata().encode())]:
            info = tarfile.TarInfo(f"{stem}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 315532800
            sdist.addfile(info, io.BytesIO(data))
    return filename
