"""The newcomer's demo: a real video pushed, indexed, queried and exported.

Starts ``framesieve serve`` as a child process on a free port, talks to it
only over HTTP as a client would, prints a short report and stops the
server. Data goes under FRAMESIEVE_HOME like any other run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from framesieve.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VIDEO = REPO_ROOT / "tests" / "data" / "videos" / "vtest.avi"


class DemoError(RuntimeError):
    """The demo could not complete; the message names the step that failed."""


class Client:
    """A minimal Sieve v1 client over urllib."""

    def __init__(self, base_url: str, api_key: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def call(self, endpoint: str, body: dict | None = None, **query) -> object:
        url = f"{self.base_url}/v1/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
        request.add_header("X-API-Key", self.api_key)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            raise DemoError(f"{endpoint} failed with HTTP {exc.code}: {detail}") from None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base_url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DemoError(f"the server exited with code {server.returncode} while starting")
        try:
            urllib.request.urlopen(f"{base_url}/v1/get_projects", timeout=2)
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise DemoError(f"the server did not respond on {base_url} within {timeout:.0f} s; check the log lines above")


def _create_key(env: dict) -> str:
    output = subprocess.run(
        [sys.executable, "-m", "framesieve.cli", "api-key", "create", "--name", "demo"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return output.stdout.strip().splitlines()[-1]


def _wait_for_job(client: Client, project: str, job_id: str) -> dict:
    with tqdm(desc="indexing", unit="frame") as bar:
        while True:
            status = client.call("get_job_status", project_name=project, job_id=job_id)
            bar.set_postfix_str(status["status"])
            bar.update(max(0, status.get("frames_done", 0) - bar.n))
            if status["status"] in ("finished", "failed"):
                return status
            time.sleep(0.5)


def _wait_for_export(client: Client, project: str, name: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exports = client.call("get_exports_status", project_name=project)["exports"]
        export = next(item for item in exports if item["name"] == name)
        if export["status"] in ("complete", "failed"):
            return export
        time.sleep(0.5)
    raise DemoError(f"export {name} did not complete within {timeout:.0f} s")


def _report(client: Client, project: str, job: dict, download_dir: Path) -> None:
    print(f"\nVideo indexed: {job['frame_count']} frames")

    print("\nTag values seen (frames):")
    tags = client.call("get_tags", project_name=project)["tag_status"]["tags"]
    for tag in tags:
        if tag["output_kind"] not in ("string", "boolean") or not tag["outputs"]:
            continue
        counts = []
        for value in tag["outputs"]:
            text = str(value).lower() if isinstance(value, bool) else value
            total = client.call("get_metadata", project_name=project, start_index=0, end_index=0, **{tag["name"]: text})["total_samples"]
            if total:
                counts.append(f"{text}={total}")
        print(f"  {tag['name']:<16} {', '.join(counts)}")

    print("\nQueries:")
    for query in ({"person_detected": "True", "motion_detected": "True"}, {"lighting": ["dim", "normal"], "blur": "not_blurry"}):
        result = client.call("get_metadata", project_name=project, end_index=3, **query)
        print(f"  get_metadata {urllib.parse.urlencode(query, doseq=True)}: total_samples={result['total_samples']}")

    intervals = client.call("get_intervals", project_name=project, text_detected="True")
    for video in intervals:
        shown = video["intervals"][:8]
        more = len(video["intervals"]) - len(shown)
        suffix = f" ... and {more} more" if more > 0 else ""
        print(f"\nIntervals with text_detected=True in {video['video_name']}: {shown}{suffix}")

    export_name = f"people_{int(time.time())}"
    started = client.call("export_metadata", project_name=project, export_name=export_name, person_detected="True")
    export = _wait_for_export(client, project, export_name)
    if export["status"] != "complete":
        raise DemoError(f"export failed: {export.get('reason', 'no reason given')}")

    download_dir.mkdir(parents=True, exist_ok=True)
    tar_path = download_dir / f"{export_name}.tar.gz"
    with urllib.request.urlopen(export["tar_path"], timeout=120) as response, open(tar_path, "wb") as handle:
        while chunk := response.read(1024 * 1024):
            handle.write(chunk)
    print(f"\nExport {export_name}: {started['num_samples']} frames, tarball downloaded to {tar_path}")


def run_demo(video: str | None = None, port: int = 0) -> int:
    video_path = Path(video or DEFAULT_VIDEO).resolve()
    if not video_path.is_file():
        print(f"demo video not found: {video_path}", file=sys.stderr)
        return 1

    settings = Settings.from_env()
    port = port or _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        {
            "FRAMESIEVE_HOME": str(settings.home),
            "FRAMESIEVE_PORT": str(port),
            "FRAMESIEVE_MEDIA_ROOT": str(video_path.parent),
        }
    )

    print(f"Starting framesieve on {base_url} (data in {settings.home})")
    server = subprocess.Popen([sys.executable, "-m", "framesieve.cli", "serve"], env=env)
    try:
        _wait_until_up(base_url, server)
        client = Client(base_url, _create_key(env))

        project = f"demo_{time.strftime('%Y%m%d_%H%M%S')}"
        client.call("init_project", {"project_name": project})
        pushed = client.call(
            "push_video",
            {
                "project_name": project,
                "video_url": video_path.as_uri(),
                "video_name": video_path.stem,
                "user_metadata": {"camera": "fixed", "site": "campus"},
            },
        )
        print(f"Pushed {video_path.name} to project {project}: job {pushed['job_id']}")

        job = _wait_for_job(client, project, pushed["job_id"])
        if job["status"] != "finished":
            raise DemoError(f"job failed: {job.get('reason', 'no reason given')}")
        _report(client, project, job, settings.home / "demo")
        return 0
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        print("Server stopped.")
