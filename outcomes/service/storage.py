"""Files the server keeps beside the records: stored photos, their scaled copies, the workers'
cached baseline analyses, and each assessment's result pictures. Deleting a photo deletes
everything derived from it."""

from __future__ import annotations

import shutil

from outcomes.service.settings import ServiceSettings


def remove_photo_files(settings: ServiceSettings, stored_name: str, assessment_ids=()) -> None:  # noqa: ANN001
    """The photo's file, its thumbnails and previews, its cached analysis, and the result folders of
    ``assessment_ids``."""
    stem = stored_name.removesuffix(".png")
    (settings.photos_dir / stored_name).unlink(missing_ok=True)
    for folder in (settings.data_dir / "scaled", settings.analyses_dir):
        for path in folder.glob(f"{stem}.*"):
            path.unlink(missing_ok=True)
    for assessment_id in assessment_ids:
        shutil.rmtree(settings.results_dir / str(int(assessment_id)), ignore_errors=True)
