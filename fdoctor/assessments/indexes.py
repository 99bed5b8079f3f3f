"""The index files: the one an assessment opens with (the county's own for the year, else the
city's) and, later, the very file it was opened with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from assessments.index import Index, IndexFileError
from assessments.index_files import INDEXES_DIR, default_index_path, load_index
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.models import Assessment
from fdoctor.assessments.settings import setting
from fdoctor.org.models import OrgUnit


@dataclass(frozen=True)
class IndexChoice:
    index: Index
    file_name: str
    sha256: str


def _indexes_dir() -> Path:
    configured = setting("ASSESSMENT_INDEXES_DIR")
    return Path(configured) if configured else INDEXES_DIR


def choose_index(year: int, county: OrgUnit | None) -> IndexChoice:
    """The county's own index file for the year if it has one, else the city's."""
    folder = _indexes_dir()
    path: Path | None = None
    if county is not None and county.region_code:
        candidate = folder / f"{county.region_code}-{year}.toml"
        if candidate.is_file():
            path = candidate
    try:
        if path is None:
            path = default_index_path(year, folder)
        index = load_index(path)
    except IndexFileError as exc:
        raise AssessmentError(str(exc), 422) from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return IndexChoice(index=index, file_name=path.name, sha256=digest)


def stored_index(assessment: Assessment) -> Index:
    """The index file an assessment was opened with; refused if the file changed since."""
    path = _indexes_dir() / (assessment.index_file or "")
    if not assessment.index_file or not path.is_file():
        raise AssessmentError(f"找不到开启考核时使用的指标文件 {assessment.index_file}", 409)
    if hashlib.sha256(path.read_bytes()).hexdigest() != assessment.index_sha256:
        raise AssessmentError(
            f"指标文件 {assessment.index_file} 在开启考核后已被修改，不能按新文件重新计算", 409
        )
    try:
        return load_index(path)
    except IndexFileError as exc:
        raise AssessmentError(str(exc), 422) from None
