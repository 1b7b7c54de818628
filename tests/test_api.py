"""The Sieve v1 API end to end, on both adapter sets, with real video."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.parse
from pathlib import Path

import cv2
import pytest

from api_stack import BACKENDS, build_stack

CLIP_FRAMES = 40


@pytest.fixture(scope="module")
def media_root(tmp_path_factory, demo_video: Path) -> Path:
    """A media folder with a short real clip (the first frames of vtest.avi) and a non-video."""
    root = tmp_path_factory.mktemp("media")
    reader = cv2.VideoCapture(str(demo_video))
    ok, frame = reader.read()
    assert ok, "could not decode the demo video"
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height))
    written = 0
    while ok and written < CLIP_FRAMES:
        writer.write(frame)
        written += 1
        ok, frame = reader.read()
    writer.release()
    reader.release()

    (root / "noise.mp4").write_bytes(bytes(range(256)) * 64)
    return root


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path, media_root):
    with build_stack(request.param, tmp_path, media_root) as running:
        yield running


def push(stack, key, project, name, path: Path, **extra):
    body = {"project_name": project, "video_url": path.as_uri(), "video_name": name, **extra}
    return stack.call("POST", "push_video", key, body)


def indexed_project(stack, key, media_root, project="site_a", metadata=None):
    status, _ = stack.call("POST", "init_project", key, {"project_name": project})
    assert status == 200
    status, body = push(stack, key, project, "clip", media_root / "clip.avi", user_metadata=metadata or {"camera": "north"})
    assert status == 200, body
    stack.wait_idle()
    return body["job_id"]


def test_project_lifecycle(stack):
    key = stack.new_key("acme")

    status, body = stack.call("POST", "init_project", key, {"project_name": "amazing_project_1"})
    assert status == 200
    assert body["description"] == "Created project amazing_project_1"
    assert len(body["project_id"]) == 36

    status, body = stack.call("POST", "init_project", key, {"project_name": "amazing_project_1"})
    assert status == 409
    assert "already exists" in body["description"]

    status, body = stack.call("GET", "get_projects", key)
    assert status == 200
    assert body["projects"] == ["amazing_project_1"]
    info = body["customer_info"]
    assert info["API-Key"] == key
    assert info["name"] == "acme"
    assert info["can_set"] is True
    assert info["can_store"] is True
    assert info["videos_left"] == 1000


def test_tags_add_get_delete(stack):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})

    status, body = stack.call(
        "POST", "add_tags", key,
        {"project_name": "p", "tags": [{"name": "weather", "description": "foggy, sunny or rainy"}]},
    )
    assert (status, body) == (200, {"description": "Pushed tags"})

    status, body = stack.call("GET", "get_tags", key, query="project_name=p")
    assert status == 200
    tags = {tag["name"]: tag for tag in body["tag_status"]["tags"]}
    assert tags["weather"]["status"] == "received"
    assert tags["lighting"]["status"] == "up"
    assert tags["lighting"]["outputs"] == ["dim", "normal", "bright"]
    assert tags["motion_detected"]["output_kind"] == "boolean"
    assert all(tag["type"] == "metadata" for tag in tags.values())

    status, body = stack.call("POST", "delete_tags", key, {"project_name": "p", "tags": ["weather", "glare"]})
    assert status == 200
    assert [tag["name"] for tag in body["tags"]] == ["weather", "glare"]

    status, body = stack.call("GET", "get_tags", key, query="project_name=p")
    names = {tag["name"] for tag in body["tag_status"]["tags"]}
    assert "weather" not in names
    assert "glare" not in names

    status, body = stack.call("POST", "delete_tags", key, {"project_name": "p", "tags": ["no_such_tag"]})
    assert status == 404


def test_push_index_query_export(stack, media_root):
    key = stack.new_key()
    job_id = indexed_project(stack, key, media_root)

    status, body = stack.call("GET", "get_job_status", key, query=f"project_name=site_a&job_id={job_id}")
    assert status == 200, body
    assert body["status"] == "finished", body
    assert body["frame_count"] == CLIP_FRAMES

    status, body = stack.call("GET", "get_all_jobs", key, query="project_name=site_a")
    assert body["total_jobs"] == 1
    job = body["jobs"][0]
    assert job["job_id"] == job_id
    assert job["video_name"] == "clip"
    assert job["size_bytes"] == (media_root / "clip.avi").stat().st_size
    assert job["user_metadata"] == {"camera": "north"}
    assert job["timestamp"].endswith("GMT")

    status, body = stack.call("GET", "get_metadata", key, query="project_name=site_a")
    assert status == 200
    assert body["total_samples"] == CLIP_FRAMES
    assert body["next_start"] == -1
    frame = body["metadata"][0]
    assert frame["frame_number"] == 0
    assert frame["image_width"] == 768
    assert frame["image_height"] == 576
    assert frame["aspect_ratio"] == "4:3"
    assert frame["video_name"] == "clip"
    assert frame["group_id"] == job_id
    assert frame["camera"] == "north"
    assert frame["train"] is False
    assert frame["project_name"] == "site_a"
    assert "signed_url" in frame
    assert "storage_path" in frame
    assert [item["frame_number"] for item in body["metadata"]] == list(range(CLIP_FRAMES))

    # Pages partition the matches and next_start walks them.
    status, first = stack.call("GET", "get_metadata", key, query="project_name=site_a&start_index=0&end_index=15")
    assert first["next_start"] == 15
    assert len(first["metadata"]) == 15
    status, last = stack.call("GET", "get_metadata", key, query="project_name=site_a&start_index=30&end_index=45")
    assert last["next_start"] == -1
    assert [item["frame_number"] for item in last["metadata"]] == list(range(30, CLIP_FRAMES))

    # Every frame carries one lighting value; the counts per value add up.
    totals = 0
    for value in ("dim", "normal", "bright"):
        status, body = stack.call("GET", "get_metadata", key, query=f"project_name=site_a&lighting={value}&end_index=0")
        assert status == 200
        totals += body["total_samples"]
    assert totals == CLIP_FRAMES

    # Several values of one tag mean any of them; booleans in any case.
    status, both = stack.call("GET", "get_metadata", key, query="project_name=site_a&lighting=dim&lighting=normal&lighting=bright")
    assert both["total_samples"] == CLIP_FRAMES
    status, moving_upper = stack.call("GET", "get_metadata", key, query="project_name=site_a&motion_detected=True")
    status, moving_lower = stack.call("GET", "get_metadata", key, query="project_name=site_a&motion_detected=true")
    assert moving_upper["total_samples"] == moving_lower["total_samples"]
    assert 0 < moving_upper["total_samples"] < CLIP_FRAMES

    # Numeric tags compare as numbers; user metadata filters videos.
    status, body = stack.call("GET", "get_metadata", key, query="project_name=site_a&image_width=768.0")
    assert body["total_samples"] == CLIP_FRAMES
    status, body = stack.call("GET", "get_metadata", key, query="project_name=site_a&camera=south")
    assert body["total_samples"] == 0

    status, intervals = stack.call("GET", "get_intervals", key, query="project_name=site_a&motion_detected=True")
    assert status == 200
    assert intervals[0]["video_name"] == "clip"
    covered = sum(end - start + 1 for start, end in intervals[0]["intervals"])
    assert covered == moving_upper["total_samples"]
    assert all(start <= end for start, end in intervals[0]["intervals"])

    status, body = stack.call("GET", "export_metadata", key, query="project_name=site_a&export_name=moving&motion_detected=True")
    assert status == 200, body
    assert body["description"] == "queued for tarring"
    assert body["num_samples"] == moving_upper["total_samples"]
    stack.wait_idle()

    status, body = stack.call("POST", "get_exports_status", key, {"project_name": "site_a"})
    assert status == 200
    export = body["exports"][0]
    assert export["name"] == "moving"
    assert export["status"] == "complete", export
    assert "json_path" in export
    assert "tar_path" in export

    tar_key = stack.runtime.records.list_exports(stack.runtime.records.get_project(stack.runtime.records.get_api_key(_hash(key)).customer_id, "site_a").project_id)[0].tar_key
    archive = tarfile.open(fileobj=io.BytesIO(stack.runtime.export_blobs.get_bytes(tar_key)), mode="r:gz")
    names = archive.getnames()
    assert "metadata.json" in names
    images = [name for name in names if name.endswith(".jpg")]
    assert len(images) == moving_upper["total_samples"]
    assert all(not name.startswith("/") and ".." not in name for name in names)
    manifest = json.load(archive.extractfile("metadata.json"))
    assert manifest["num_samples"] == len(images)

    status, body = stack.call("POST", "export_metadata", key, {"project_name": "site_a", "export_name": "moving"})
    assert status == 409


def _hash(key: str) -> str:
    from framesieve.auth import hash_key

    return hash_key(key)


def test_bad_requests_get_json_errors(stack, media_root):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})

    cases = [
        ("GET", "get_projects", None, None, "", 401),
        ("GET", "get_projects", "wrong-key", None, "", 403),
        ("POST", "init_project", key, "{not json", "", 400),
        ("POST", "init_project", key, {}, "", 400),
        ("POST", "init_project", key, {"project_name": 7}, "", 400),
        ("POST", "init_project", key, ["p"], "", 400),
        ("GET", "get_tags", key, None, "project_name=missing", 404),
        ("GET", "get_job_status", key, None, "project_name=p&job_id=nope", 404),
        ("POST", "push_video", key, {"project_name": "p", "video_name": "v"}, "", 400),
        ("POST", "push_video", key, {"project_name": "p", "video_url": "file:///etc/passwd", "video_name": "v"}, "", 400),
        ("POST", "push_video", key, {"project_name": "p", "video_url": (media_root / "clip.avi").as_uri(), "video_name": "v", "user_metadata": {"a": {"b": "c"}}}, "", 400),
        ("POST", "push_video", key, {"project_name": "p", "video_url": (media_root / "clip.avi").as_uri(), "video_name": "v", "user_metadata": ["x"]}, "", 400),
        ("GET", "get_metadata", key, None, "project_name=p&no_such_tag=1", 400),
        ("GET", "get_metadata", key, None, "project_name=p&start_index=0&end_index=7501", 400),
        ("GET", "get_metadata", key, None, "project_name=p&start_index=-1", 400),
        ("GET", "get_metadata", key, None, "project_name=p&motion_detected=maybe", 400),
        ("GET", "get_metadata", key, None, "project_name=p&image_width=wide", 400),
        ("GET", "get_metadata", key, None, "project_name=p&image_width=nan", 400),
        ("GET", "get_metadata", key, None, "project_name=p&lighting=purple", 400),
        ("POST", "export_metadata", key, {"project_name": "p", "export_name": "e", "tags": 7}, "", 400),
        ("POST", "export_metadata", key, {"project_name": "p", "export_name": "e", "tags": ["lighting"]}, "", 400),
        ("POST", "set_project_settings", key, {"project_name": "p"}, "", 400),
        ("GET", "push_video", key, None, "project_name=p", 405),
    ]
    for method, endpoint, caller, body, query, expected in cases:
        status, response = stack.call(method, endpoint, caller, body, query)
        assert status == expected, (endpoint, body, query, response)
        assert isinstance(response.get("description"), str) and response["description"], (endpoint, response)

    status, _ = stack.call("GET", "get_metadata", key, query="project_name=p&start_index=0&end_index=7500")
    assert status == 200


def test_duplicate_video_name_conflicts(stack, media_root):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})
    status, _ = push(stack, key, "p", "cam1", media_root / "clip.avi")
    assert status == 200
    status, body = push(stack, key, "p", "cam1", media_root / "clip.avi")
    assert status == 409
    assert "cam1" in body["description"]
    stack.wait_idle()


def test_undecodable_video_fails_with_reason(stack, media_root):
    key = stack.new_key()
    stack.call("POST", "init_project", key, {"project_name": "p"})
    status, body = push(stack, key, "p", "noise", media_root / "noise.mp4")
    assert status == 200
    stack.wait_idle()

    status, body = stack.call("GET", "get_job_status", key, query=f"project_name=p&job_id={body['job_id']}")
    assert body["status"] == "failed"
    assert body["reason"]

    status, body = stack.call("GET", "get_metadata", key, query="project_name=p")
    assert body["total_samples"] == 0
    assert stack.runtime.blobs.list_keys("customers") == [] or all("/videos/" not in k for k in stack.runtime.blobs.list_keys("customers"))


def test_other_customer_sees_nothing(stack, media_root):
    owner = stack.new_key("owner")
    job_id = indexed_project(stack, owner, media_root)
    intruder = stack.new_key("intruder")

    status, body = stack.call("GET", "get_projects", intruder)
    assert body["projects"] == []
    for endpoint, query in [
        ("get_tags", "project_name=site_a"),
        ("get_all_jobs", "project_name=site_a"),
        ("get_job_status", f"project_name=site_a&job_id={job_id}"),
        ("get_metadata", "project_name=site_a"),
        ("get_intervals", "project_name=site_a"),
        ("get_exports_status", "project_name=site_a"),
        ("export_metadata", "project_name=site_a&export_name=steal"),
    ]:
        status, body = stack.call("GET", endpoint, intruder, query=query)
        assert status == 404, (endpoint, body)

    # The intruder's own project of the same name does not reveal the owner's job.
    stack.call("POST", "init_project", intruder, {"project_name": "site_a"})
    status, body = stack.call("GET", "get_job_status", intruder, query=f"project_name=site_a&job_id={job_id}")
    assert status == 404
    status, body = stack.call("GET", "get_metadata", intruder, query="project_name=site_a")
    assert body["total_samples"] == 0


def test_customer_without_storage_gets_no_frame_links(stack, media_root):
    key = stack.new_key("metadata-only", can_store=False)
    indexed_project(stack, key, media_root)

    status, body = stack.call("GET", "get_metadata", key, query="project_name=site_a&end_index=5")
    assert body["total_samples"] == CLIP_FRAMES
    for frame in body["metadata"]:
        assert "signed_url" not in frame
        assert "storage_path" not in frame
    assert not any(key.endswith(".jpg") for key in stack.runtime.blobs.list_keys("customers"))


def test_train_flag_and_quota(stack, media_root):
    key = stack.new_key("small", videos_left=1)
    stack.call("POST", "init_project", key, {"project_name": "p"})
    status, _ = push(stack, key, "p", "first", media_root / "clip.avi", train="True")
    assert status == 200
    status, body = push(stack, key, "p", "second", media_root / "clip.avi")
    assert status == 403
    assert "videos" in body["description"]
    stack.wait_idle()

    status, body = stack.call("GET", "get_metadata", key, query="project_name=p&end_index=1")
    assert body["metadata"][0]["train"] is True
    status, body = stack.call("GET", "get_projects", key)
    assert body["customer_info"]["videos_left"] == 0
    assert body["customer_info"]["hours_left"] < 100.0


def test_second_customer_cannot_touch_anything(stack, media_root):
    """Every endpoint, called with another key on the owner's names, is refused and changes nothing."""
    owner = stack.new_key("owner")
    job_id = indexed_project(stack, owner, media_root)
    stack.call("GET", "export_metadata", owner, query="project_name=site_a&export_name=mine")
    stack.wait_idle()
    status, before = stack.call("GET", "get_metadata", owner, query="project_name=site_a")
    intruder = stack.new_key("intruder")
    clip_url = (media_root / "clip.avi").as_uri()

    calls = [
        ("GET", "get_tags", None, "project_name=site_a"),
        ("POST", "add_tags", {"project_name": "site_a", "tags": [{"name": "stolen", "description": "x"}]}, ""),
        ("POST", "delete_tags", {"project_name": "site_a", "tags": ["lighting"]}, ""),
        ("POST", "push_video", {"project_name": "site_a", "video_url": clip_url, "video_name": "clip2"}, ""),
        ("GET", "get_all_jobs", None, "project_name=site_a"),
        ("GET", "get_job_status", None, f"project_name=site_a&job_id={job_id}"),
        ("GET", "get_metadata", None, "project_name=site_a"),
        ("GET", "get_intervals", None, "project_name=site_a&motion_detected=true"),
        ("GET", "export_metadata", None, "project_name=site_a&export_name=steal"),
        ("POST", "export_metadata", {"project_name": "site_a", "export_name": "steal"}, ""),
        ("GET", "get_exports_status", None, "project_name=site_a"),
        ("POST", "get_exports_status", {"project_name": "site_a"}, ""),
        ("POST", "add_custom_model_config", {"project_name": "site_a", "model_name": "m", "version_name": "v", "file_urls": [clip_url]}, ""),
        ("POST", "set_active_custom_model", {"project_name": "site_a", "model_name": "m", "version_name": "v"}, ""),
        ("GET", "get_custom_models", None, "project_name=site_a"),
    ]
    for method, endpoint, body, query in calls:
        status, response = stack.call(method, endpoint, intruder, body, query)
        assert status == 404, (endpoint, response)
        assert "not found" in response["description"], (endpoint, response)

    status, projects = stack.call("GET", "get_projects", intruder)
    assert projects["projects"] == []

    status, after = stack.call("GET", "get_metadata", owner, query="project_name=site_a")
    assert after["total_samples"] == before["total_samples"]
    status, tags = stack.call("GET", "get_tags", owner, query="project_name=site_a")
    names = {tag["name"] for tag in tags["tag_status"]["tags"]}
    assert "lighting" in names
    assert "stolen" not in names
    status, jobs = stack.call("GET", "get_all_jobs", owner, query="project_name=site_a")
    assert jobs["total_jobs"] == 1
    status, exports = stack.call("GET", "get_exports_status", owner, query="project_name=site_a")
    assert [export["name"] for export in exports["exports"]] == ["mine"]


def test_rate_limit_answers_429(tmp_path, media_root):
    with build_stack("embedded", tmp_path, media_root, rate_limit_per_second=0.5, rate_limit_burst=3) as stack:
        key = stack.new_key()
        statuses = [stack.client.http.get("/v1/get_projects", headers={"X-API-Key": key}) for _ in range(5)]
        codes = [response.status_code for response in statuses]
        assert codes[:3] == [200, 200, 200]
        assert codes[3] == 429
        assert int(statuses[3].headers["Retry-After"]) >= 1
        assert "description" in json.loads(statuses[3].body)

        other = stack.new_key("other")
        assert stack.client.http.get("/v1/get_projects", headers={"X-API-Key": other}).status_code == 200


def test_project_settings_round_trip(stack):
    key = stack.new_key()
    status, _ = stack.call("POST", "init_project", key, {"project_name": "p", "cascade": {"max_gap_frames": 5}})
    assert status == 200

    status, body = stack.call("GET", "get_project_settings", key, query="project_name=p")
    assert status == 200
    assert body["settings"]["cascade"]["enabled"] is True
    assert body["settings"]["cascade"]["max_gap_frames"] == 5

    status, body = stack.call("POST", "set_project_settings", key, {"project_name": "p", "cascade": {"enabled": False}})
    assert status == 200
    assert body["settings"]["cascade"]["enabled"] is False
    status, body = stack.call("GET", "get_project_settings", key, query="project_name=p")
    assert body["settings"]["cascade"]["enabled"] is False

    for bad in ({"speed": 3}, {"max_gap_frames": "ten"}, "fast"):
        status, body = stack.call("POST", "set_project_settings", key, {"project_name": "p", "cascade": bad})
        assert status == 400, (bad, body)
        assert body["description"]


def test_detector_tags_on_frames(stack, media_root):
    key = stack.new_key()
    indexed_project(stack, key, media_root)

    status, body = stack.call("GET", "get_tags", key, query="project_name=site_a")
    tags = {tag["name"]: tag for tag in body["tag_status"]["tags"]}
    for name in ("person_detected", "face_detected", "text_detected"):
        assert tags[name]["status"] == "up"
        assert tags[name]["output_kind"] == "boolean"

    # The clip is a campus path with pedestrians in every frame.
    status, body = stack.call("GET", "get_metadata", key, query="project_name=site_a&person_detected=True&end_index=2")
    assert body["total_samples"] >= CLIP_FRAMES * 0.9
    frame = body["metadata"][0]
    assert frame["person_count"] >= 1
    assert len(frame["person_boxes"]) == frame["person_count"]
    assert all(0.0 <= value <= 1.0 for box in frame["person_boxes"] for value in box)


def test_filters_in_body_list_and_case(stack, media_root):
    key = stack.new_key()
    indexed_project(stack, key, media_root)

    status, upper = stack.call("GET", "get_metadata", key, query="project_name=site_a&lighting=NORMAL&end_index=0")
    status, lower = stack.call("GET", "get_metadata", key, query="project_name=site_a&lighting=normal&end_index=0")
    assert status == 200
    assert upper["total_samples"] == lower["total_samples"]

    body = {"project_name": "site_a", "export_name": "listed", "tags": ["motion_detected=true", "camera=north"]}
    status, listed = stack.call("POST", "export_metadata", key, body)
    assert status == 200, listed
    status, moving = stack.call("GET", "get_metadata", key, query="project_name=site_a&motion_detected=true&end_index=0")
    assert listed["num_samples"] == moving["total_samples"]


def test_tag_named_like_metadata_key_rejected(stack, media_root):
    key = stack.new_key()
    indexed_project(stack, key, media_root, metadata={"site": "north"})
    status, body = stack.call("POST", "add_tags", key, {"project_name": "site_a", "tags": [{"name": "site", "description": "x"}]})
    assert status == 400
    assert "site" in body["description"]
    status, body = stack.call("GET", "get_metadata", key, query="project_name=site_a&site=north&end_index=0")
    assert body["total_samples"] == CLIP_FRAMES


def test_api_keeps_package_logging():
    """Chalice configures a logger named after the app; ours must still log."""
    import logging

    import framesieve.api  # noqa: F401

    package = logging.getLogger("framesieve")
    assert package.propagate is True
    assert package.level == logging.NOTSET
