from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.catalogue_file import CatalogueFileError, load_catalogue


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(document))
    return path


def test_services_carry_their_settings_and_allow_lists(tmp_path: Path) -> None:
    catalogue = load_catalogue(
        write(
            tmp_path,
            {
                "services": [
                    {
                        "name": "profile",
                        "url": "http://127.0.0.1:9000/v1/",
                        "timeout_ms": 300,
                        "retries": 2,
                        "headers": {"x-api-key": "k"},
                        "allow": ["tv", "music/home"],
                    },
                    {"name": "open", "url": "https://example.internal"},
                ]
            },
        )
    )
    profile = catalogue.get("profile")
    assert profile is not None
    assert (profile.base_url, profile.timeout_ms, profile.retries) == (
        "http://127.0.0.1:9000/v1",
        300,
        2,
    )
    assert profile.headers == [("x-api-key", "k")]
    assert catalogue.allowed_for("tv", "/anything") == {"profile", "open"}
    assert catalogue.allowed_for("music", "/home") == {"profile", "open"}
    assert catalogue.allowed_for("music", "/other") == {"open"}


@pytest.mark.parametrize(
    "service",
    [
        {"name": "x", "url": "file:///etc/passwd"},
        {"name": "Bad Name", "url": "http://127.0.0.1"},
        {"name": "x", "url": "http://127.0.0.1", "surprise": True},
    ],
)
def test_a_bad_catalogue_is_refused(tmp_path: Path, service: dict[str, object]) -> None:
    with pytest.raises(CatalogueFileError):
        load_catalogue(write(tmp_path, {"services": [service]}))
