"""The embedded server over real HTTP: signed links, limits, restarts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from framesieve.demo import Client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``framesieve serve`` in a child process, as a user runs it."""

    def __init__(self, home: Path, media_root: Path, **env) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            FRAMESIEVE_HOME=str(home),
            FRAMESIEVE_PORT=str(self.port),
            FRAMESIEVE_MEDIA_ROOT=str(media_root),
            **{f"FRAMESIEVE_{name.upper()}": str(value) for name, value in env.items()},
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        self.process = subprocess.Popen([sys.executable, "-m", "framesieve.cli", "serve"], env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base_url}/v1/get_projects", timeout=2)
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not start within 60 s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def create_key(self, name: str = "tester") -> str:
        output = subprocess.run(
            [sys.executable, "-m", "framesieve.cli", "api-key", "create", "--name", name],
            env=self.env, check=True, capture_output=True, text=True,
        )
        return output.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(tmp_path, demo_video):
    running = ServerProcess(tmp_path / "home", demo_video.parent, segment_frames=200, workers=1).start()
    yield running
    running.stop()


def _raw(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_status(client: Client, project: str, job_id: str, wanted: set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.call("get_job_status", project_name=project, job_id=job_id)
        if status["status"] in wanted:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {wanted} within {timeout} s")


def test_key_printed_last_and_stored_hashed(server):
    key = server.create_key("ops")
    assert key.startswith("fsk_")
    database = Path(server.env["FRAMESIEVE_HOME"]) / "records.sqlite3"
    assert key.encode() not in database.read_bytes()


def test_signed_links_and_limits(server, demo_video):
    client = Client(server.base_url, server.create_key())
    client.call("init_project", {"project_name": "p"})
    job = client.call("push_video", {"project_name": "p", "video_url": demo_video.as_uri(), "video_name": "vtest"})
    _wait_status(client, "p", job["job_id"], {"finished"})

    frame = client.call("get_metadata", project_name="p", start_index=10, end_index=11)["metadata"][0]
    status, image = _raw(frame["signed_url"])
    assert status == 200
    assert image[:3] == b"\xff\xd8\xff"

    token = frame["signed_url"].rsplit("/", 1)[1]
    payload, signature = token.split(".")
    tampered = frame["signed_url"].replace(token, payload + "." + signature[::-1])
    status, body = _raw(tampered)
    assert status == 404
    assert "description" in json.loads(body)

    status, body = _raw(f"{server.base_url}/v1/init_project", b"{broken", {"X-API-Key": client.api_key})
    assert status == 400
    assert "JSON" in json.loads(body)["description"]

    status, body = _raw(f"{server.base_url}/v1/init_project", b"x" * (2 * 1024 * 1024), {"X-API-Key": client.api_key})
    assert status == 413


def test_job_survives_server_kill(tmp_path, demo_video):
    home = tmp_path / "home"
    first = ServerProcess(home, demo_video.parent, segment_frames=200, workers=1).start()
    key = first.create_key()
    client = Client(first.base_url, key)
    client.call("init_project", {"project_name": "p"})
    job = client.call("push_video", {"project_name": "p", "video_url": demo_video.as_uri(), "video_name": "vtest"})

    # Kill while the job is mid-way: after its first segment, before its last.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.call("get_job_status", project_name="p", job_id=job["job_id"])
        if status["frames_done"] > 0 or status["status"] == "finished":
            break
        time.sleep(0.05)
    first.kill()
    assert status["status"] == "processing", "the job finished before the server could be killed"

    second = ServerProcess(home, demo_video.parent, segment_frames=200, workers=1)
    second.port, second.base_url = first.port, first.base_url
    second.env["FRAMESIEVE_PORT"] = str(first.port)
    second.start()
    try:
        client = Client(second.base_url, key)
        final = _wait_status(client, "p", job["job_id"], {"finished", "failed"})
        assert final["status"] == "finished", final
        assert final["frame_count"] == 795

        numbers = []
        for start in range(0, 795, 500):
            page = client.call("get_metadata", project_name="p", start_index=start, end_index=start + 500)
            numbers += [frame["frame_number"] for frame in page["metadata"]]
        assert numbers == list(range(795))
    finally:
        second.stop()
