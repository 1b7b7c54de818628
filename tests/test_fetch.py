"""URL checks and downloads against HTTP(S) servers started on 127.0.0.1 in this module.

No test resolves an external name or connects anywhere but 127.0.0.1: forbidden
addresses appear only as literals, and an audit hook records every socket
connect so the redirect tests can show that none was attempted.
"""

from __future__ import annotations

import datetime
import ipaddress
import random
import socket
import ssl
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from framesieve.errors import BadRequest, VideoError
from framesieve.fetch import (
    MAX_URL_LENGTH,
    FetchPolicy,
    ForbiddenAddress,
    UrlRejected,
    check_url,
    fetch_to_file,
    format_size,
)
from framesieve.settings import Settings

VIDEO_BYTES = random.Random(7).randbytes(3 * 1024 * 1024 + 123)
SMALL_LIMIT = 64 * 1024


# --- socket audit ----------------------------------------------------------

_audit_lock = threading.Lock()
_audit_log: list[tuple[str, tuple]] | None = None


def _audit(event: str, args: tuple) -> None:
    if _audit_log is None or event not in ("socket.connect", "socket.getaddrinfo"):
        return
    with _audit_lock:
        if event == "socket.connect":
            _audit_log.append((event, args[1]))
        else:
            _audit_log.append((event, (args[0], args[1])))


# Audit hooks cannot be removed, so this one records only inside the socket_events fixture.
sys.addaudithook(_audit)


@pytest.fixture
def socket_events():
    global _audit_log
    _audit_log = []
    try:
        yield _audit_log
    finally:
        _audit_log = None


def connected_hosts(events: list[tuple[str, tuple]]) -> set[str]:
    return {args[0] for event, args in events if event == "socket.connect"}


# --- test server -----------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    release: threading.Event

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        route = parts.path

        if route == "/video":
            self.send_response(200)
            self.send_header("Content-Type", "video/x-msvideo")
            self.send_header("Content-Length", str(len(VIDEO_BYTES)))
            self.end_headers()
            for start in range(0, len(VIDEO_BYTES), 100_000):
                self.wfile.write(VIDEO_BYTES[start : start + 100_000])
        elif route == "/host":
            body = self.headers["Host"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif route == "/missing":
            self.send_error(404)
        elif route == "/error":
            self.send_error(500)
        elif route.startswith("/hop/"):
            left = int(route.rsplit("/", 1)[1])
            self.redirect("/video" if left == 0 else f"/hop/{left - 1}")
        elif route == "/to":
            self.redirect(query["location"][0])
        elif route == "/relative":
            self.redirect("video")
        elif route == "/no-location":
            self.send_response(302)
            self.end_headers()
        elif route == "/big-announced":
            self.send_response(200)
            self.send_header("Content-Length", str(SMALL_LIMIT + 1))
            self.end_headers()
            self.wfile.write(b"x" * (SMALL_LIMIT + 1))
        elif route == "/big-unannounced":
            # HTTP/1.0 without Content-Length: the body ends when the connection closes.
            self.send_response(200)
            self.end_headers()
            for _ in range(8):
                self.wfile.write(b"y" * SMALL_LIMIT)
        elif route == "/stall-body":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"z" * 10)
            self.wfile.flush()
            self.release.wait(10)
        elif route == "/stall-headers":
            self.release.wait(10)
        elif route == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                if self.release.is_set():
                    break
                self.wfile.write(b"t")
                self.wfile.flush()
                time.sleep(0.05)
        elif route == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b"q" * 100)
        else:
            self.send_error(400)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


def start_server(tls_context: ssl.SSLContext | None = None):
    release = threading.Event()
    handler = type("BoundHandler", (Handler,), {"release": release})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, release, thread


@pytest.fixture(scope="module")
def server_url():
    server, release, thread = start_server()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def loopback_policy() -> FetchPolicy:
    return FetchPolicy(
        allow_file_urls=False,
        media_root=None,
        allow_loopback=True,
        max_bytes=16 * 1024 * 1024,
        max_redirects=3,
        timeout_seconds=5.0,
    )


def public_only(policy: FetchPolicy) -> FetchPolicy:
    return replace(policy, allow_loopback=False)


# --- policy ----------------------------------------------------------------


def test_policy_aws_ignores_media_root_and_loopback(tmp_path):
    settings = Settings(backend="aws", media_root=tmp_path, allow_loopback_urls=True)
    policy = FetchPolicy.from_settings(settings)

    assert policy.allow_file_urls is False
    assert policy.media_root is None
    assert policy.allow_loopback is False
    assert policy.max_bytes == settings.max_video_bytes
    assert policy.max_redirects == settings.max_redirects
    assert policy.timeout_seconds == settings.fetch_timeout_seconds


def test_policy_embedded_follows_settings(tmp_path):
    default = FetchPolicy.from_settings(Settings(backend="embedded"))
    assert default.allow_file_urls is False
    assert default.allow_loopback is False

    enabled = FetchPolicy.from_settings(Settings(backend="embedded", media_root=tmp_path, allow_loopback_urls=True))
    assert enabled.allow_file_urls is True
    assert enabled.media_root == tmp_path.resolve()
    assert enabled.allow_loopback is True


# --- check_url: forbidden addresses ---------------------------------------

FORBIDDEN_URLS = [
    # IPv4 literals
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/video.mp4",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.0.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    # Legacy IPv4 spellings that inet_aton accepts
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://0/",
    "http://2852039166/",
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://012.0.0.1/",
    "http://127.0.0.1./",
    # IPv6 literals
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    # IPv6 forms that carry a forbidden IPv4 address
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[::ffff:0:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b:1::1]/",
    # Names that are loopback by definition
    "http://localhost/",
    "http://LOCALHOST:8000/",
    "https://localhost/",
    "http://api.localhost/",
    "http://localhost./",
]


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_check_url_rejects_forbidden_address(url):
    policy = FetchPolicy(
        allow_file_urls=False, media_root=None, allow_loopback=False, max_bytes=1024, max_redirects=3, timeout_seconds=5
    )

    with pytest.raises(ForbiddenAddress) as caught:
        check_url(url, policy)

    assert "forbidden address" in caught.value.description
    assert caught.value.status == 400


def test_forbidden_table_size():
    assert len(FORBIDDEN_URLS) == len(set(FORBIDDEN_URLS))
    assert len(FORBIDDEN_URLS) >= 30


def test_check_url_loopback_allowed_only_for_loopback(loopback_policy):
    assert check_url("http://localhost:9000/a.mp4", loopback_policy) == "http://localhost:9000/a.mp4"
    assert check_url("http://2130706433/", loopback_policy) == "http://127.0.0.1/"
    assert check_url("http://[::1]:81/x", loopback_policy) == "http://[::1]:81/x"

    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[::ffff:169.254.169.254]/", "http://0.0.0.0/"):
        with pytest.raises(ForbiddenAddress):
            check_url(url, loopback_policy)


def test_check_url_loopback_message_names_setting():
    embedded = FetchPolicy(False, None, False, 1024, 3, 5.0)
    with pytest.raises(ForbiddenAddress) as caught:
        check_url("http://127.0.0.1/", embedded)
    assert "FRAMESIEVE_ALLOW_LOOPBACK_URLS" in caught.value.description

    aws = replace(embedded, backend="aws")
    with pytest.raises(ForbiddenAddress) as caught:
        check_url("http://127.0.0.1/", aws)
    assert "FRAMESIEVE_ALLOW_LOOPBACK_URLS" not in caught.value.description


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://8.8.8.8/video.mp4", "http://8.8.8.8/video.mp4"),
        ("HTTPS://8.8.8.8:443/a?X-Amz-Signature=abc#frag", "https://8.8.8.8/a?X-Amz-Signature=abc"),
        ("http://134744072/", "http://8.8.8.8/"),
        ("http://8.8.8.8:8080", "http://8.8.8.8:8080/"),
        ("https://[2606:4700:4700::1111]/v.mp4", "https://[2606:4700:4700::1111]/v.mp4"),
        ("http://8.8.8.8/caf\u00e9.mp4", "http://8.8.8.8/caf%C3%A9.mp4"),
        ("  http://8.8.8.8/padded  ", "http://8.8.8.8/padded"),
    ],
)
def test_check_url_accepts_public_literal(url, expected):
    policy = FetchPolicy(False, None, False, 1024, 3, 5.0)
    assert check_url(url, policy) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "must be a string"),
        (42, "must be a string"),
        (["http://8.8.8.8/"], "must be a string"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("http://8.8.8.8/" + "a" * MAX_URL_LENGTH, "too long"),
        ("ftp://8.8.8.8/video.mp4", "scheme must be http or https"),
        ("gopher://8.8.8.8/", "scheme must be http or https"),
        ("8.8.8.8/video.mp4", "scheme must be http or https"),
        ("http:///video.mp4", "has no host"),
        ("http://user:secret@8.8.8.8/", "user name or password"),
        ("http://8.8.8.8:99999/", "invalid port"),
        ("http://8.8.8.8:0/", "invalid port"),
        ("http://8.8.8.8/a b", "forbidden character"),
        ("http://8.8.8.8\\@169.254.169.254/", "forbidden character"),
        ("http://8.8.8.8/\r\nX-Injected: 1", "forbidden character"),
        ("http://256.0.0.1/", "invalid IPv4 address"),
        ("http://1.2.3.4.5/", "invalid IPv4 address"),
        ("http://[::ffff:zz]/", "not a valid URL"),
        ("http://[v1.fe80::a]/", "invalid IPv6 address"),
        ("http://exa mple.com/", "forbidden character"),
        ("http://-bad-.example/", "invalid host name"),
    ],
)
def test_check_url_rejects_invalid(url, message):
    policy = FetchPolicy(False, None, False, 1024, 3, 5.0)

    with pytest.raises(BadRequest) as caught:
        check_url(url, policy, field="video_url")

    assert message in caught.value.description
    assert caught.value.description.startswith("video_url ")


def install_fake_resolver(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Return fixed getaddrinfo results for the names in ``answers``; other hosts go to the real resolver."""
    real_getaddrinfo = socket.getaddrinfo
    asked: list[str] = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        results = []
        for text in answers[host]:
            family = socket.AF_INET6 if ":" in text else socket.AF_INET
            sockaddr = (text, port, 0, 0) if family == socket.AF_INET6 else (text, port)
            results.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return results

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return asked


def test_check_url_fake_resolver_mixed_answers(monkeypatch):
    install_fake_resolver(
        monkeypatch,
        {"mixed.example": ["8.8.8.8", "10.0.0.7"], "public.example": ["8.8.8.8", "2606:4700:4700::1111"]},
    )
    policy = FetchPolicy(False, None, False, 1024, 3, 5.0)

    # One forbidden address among public ones is enough to reject the name.
    with pytest.raises(ForbiddenAddress) as caught:
        check_url("http://mixed.example/v.mp4", policy)
    assert caught.value.description.startswith("url host mixed.example resolves to 10.0.0.7")

    assert check_url("http://Public.Example/v.mp4", policy) == "http://public.example/v.mp4"


def test_fetch_fake_resolver_single_lookup(monkeypatch, server_url, loopback_policy, tmp_path, socket_events):
    asked = install_fake_resolver(monkeypatch, {"video.example": ["127.0.0.1"]})
    port = urlsplit(server_url).port
    dest = tmp_path / "host.txt"

    result = fetch_to_file(f"http://video.example:{port}/host", dest, loopback_policy)

    # The name was resolved once; the connection used the checked address
    # and the server still saw the name in the Host header.
    assert asked.count("video.example") == 1
    assert dest.read_text() == f"video.example:{port}"
    assert result.final_url == f"http://video.example:{port}/host"
    assert connected_hosts(socket_events) == {"127.0.0.1"}


# --- check_url: file:// ------------------------------------------------------


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "a.avi").write_bytes(b"inside" * 100)
    (tmp_path / "secret.bin").write_bytes(b"outside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "b.avi").write_bytes(b"outside folder")
    (root / "escape.avi").symlink_to(tmp_path / "secret.bin")
    (root / "escape-dir").symlink_to(tmp_path / "outside")
    (root / "inner-link.avi").symlink_to(root / "clips" / "a.avi")
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    policy = FetchPolicy(True, root, False, 1024 * 1024, 3, 5.0)
    return root, policy


def test_check_url_file_inside_root(media):
    root, policy = media

    assert check_url((root / "clips" / "a.avi").as_uri(), policy) == (root / "clips" / "a.avi").as_uri()
    assert check_url(f"file://localhost{root}/clips/a.avi", policy) == (root / "clips" / "a.avi").as_uri()
    assert check_url(f"file://{root}/clips/../clips/a.avi", policy) == (root / "clips" / "a.avi").as_uri()
    # A symlink that stays inside the root is followed and accepted.
    assert check_url(f"file://{root}/inner-link.avi", policy) == (root / "clips" / "a.avi").as_uri()


@pytest.mark.parametrize(
    "relative",
    ["../secret.bin", "clips/../../secret.bin", "escape.avi", "escape-dir/b.avi", "%2E%2E/secret.bin"],
)
def test_check_url_file_outside_root(media, relative):
    root, policy = media

    with pytest.raises(UrlRejected) as caught:
        check_url(f"file://{root}/{relative}", policy)

    assert "outside FRAMESIEVE_MEDIA_ROOT" in caught.value.description


def test_check_url_file_rejections(media):
    root, policy = media
    cases = {
        "file:///etc/passwd": "outside FRAMESIEVE_MEDIA_ROOT",
        f"file://{root}/clips/missing.avi": "file not found",
        f"file://{root}/clips": "file not found",
        f"file://otherhost{root}/clips/a.avi": "must have no host",
        f"file://{root}/clips/a.avi?x=1": "query or fragment",
        f"file://{root}/loop-a": "could not be resolved",
    }
    for url, message in cases.items():
        with pytest.raises(UrlRejected) as caught:
            check_url(url, policy)
        assert message in caught.value.description, url


def test_check_url_file_disabled_messages(media):
    root, _ = media
    url = (root / "clips" / "a.avi").as_uri()
    embedded = FetchPolicy(False, None, True, 1024, 3, 5.0)
    aws = replace(embedded, allow_loopback=False, backend="aws")

    with pytest.raises(UrlRejected) as caught:
        check_url(url, embedded)
    assert caught.value.description.startswith("file:// URLs are not accepted; set FRAMESIEVE_MEDIA_ROOT")

    with pytest.raises(UrlRejected) as caught:
        check_url(url, aws)
    assert caught.value.description == "file:// URLs are not accepted by this deployment"


# --- fetch_to_file over HTTP -----------------------------------------------


def test_fetch_streams_video(server_url, loopback_policy, tmp_path, socket_events):
    dest = tmp_path / "video.bin"

    result = fetch_to_file(f"{server_url}/video", dest, loopback_policy)

    assert dest.read_bytes() == VIDEO_BYTES
    assert result.size_bytes == len(VIDEO_BYTES)
    assert result.content_type == "video/x-msvideo"
    assert result.final_url == f"{server_url}/video"
    assert connected_hosts(socket_events) == {"127.0.0.1"}


def test_fetch_connects_to_checked_address(server_url, loopback_policy, tmp_path, socket_events):
    port = urlsplit(server_url).port
    dest = tmp_path / "host.txt"

    fetch_to_file(f"http://localhost:{port}/host", dest, loopback_policy)

    # The server saw the name the client used, but the socket went to a checked IP.
    assert dest.read_text() == f"localhost:{port}"
    assert connected_hosts(socket_events) <= {"127.0.0.1", "::1"}
    looked_up = {args[0] for event, args in socket_events if event == "socket.getaddrinfo"}
    for host in looked_up:
        ipaddress.ip_address(host)


@pytest.mark.parametrize(("route", "status"), [("/missing", 404), ("/error", 500)])
def test_fetch_http_error_status(server_url, loopback_policy, tmp_path, route, status):
    dest = tmp_path / "out.bin"

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}{route}?X-Amz-Signature=secret", dest, loopback_policy)

    assert caught.value.description == f"download failed: HTTP {status} from {server_url}{route}?..."
    assert "secret" not in caught.value.description
    assert not dest.exists()


def test_fetch_follows_redirects_within_limit(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"

    # /hop/2 -> /hop/1 -> /hop/0 -> /video: three redirects, the policy allows three.
    result = fetch_to_file(f"{server_url}/hop/2", dest, loopback_policy)

    assert dest.read_bytes() == VIDEO_BYTES
    assert result.final_url == f"{server_url}/video"


def test_fetch_follows_relative_redirect(server_url, loopback_policy, tmp_path):
    result = fetch_to_file(f"{server_url}/relative", tmp_path / "out.bin", loopback_policy)
    assert result.final_url == f"{server_url}/video"


def test_fetch_too_many_redirects(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/hop/3", dest, loopback_policy)

    assert caught.value.description.startswith("too many redirects (more than 3)")
    assert not dest.exists()


def test_fetch_redirect_without_location(server_url, loopback_policy, tmp_path):
    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/no-location", tmp_path / "out.bin", loopback_policy)
    assert "without a Location header" in caught.value.description


@pytest.mark.parametrize(
    ("location", "address"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/video.mp4", "10.0.0.1"),
        ("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"),
        ("http://2852039166/", "169.254.169.254"),
        ("http://192.168.0.1:8080/", "192.168.0.1"),
    ],
)
def test_fetch_redirect_to_forbidden_address(server_url, loopback_policy, tmp_path, socket_events, location, address):
    dest = tmp_path / "out.bin"

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/to?location={location}", dest, loopback_policy)

    assert caught.value.description.startswith(f"redirect to a forbidden address {address} rejected")
    assert not dest.exists()
    # The first hop connected (so the hook is recording), and nothing else did.
    assert connected_hosts(socket_events) == {"127.0.0.1"}


def test_fetch_redirect_to_loopback_when_not_allowed(server_url, loopback_policy, tmp_path, socket_events):
    # The loopback server itself is only reachable because loopback is allowed;
    # a public-only policy must stop at the first hop without connecting.
    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/video", tmp_path / "out.bin", public_only(loopback_policy))

    assert "forbidden address" in caught.value.description
    assert connected_hosts(socket_events) == set()


def test_fetch_redirect_to_file_url(server_url, loopback_policy, tmp_path, socket_events):
    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/to?location=file:///etc/passwd", tmp_path / "out.bin", loopback_policy)

    assert caught.value.description.startswith("redirect to a file: URL rejected")


def test_fetch_size_limit_with_content_length(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"
    policy = replace(loopback_policy, max_bytes=SMALL_LIMIT)

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/big-announced", dest, policy)

    assert caught.value.description.startswith("download exceeded the 64 KiB limit (FRAMESIEVE_MAX_VIDEO_BYTES)")
    assert "announced 65537 bytes" in caught.value.description
    assert not dest.exists()


def test_fetch_size_limit_without_content_length(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"
    policy = replace(loopback_policy, max_bytes=SMALL_LIMIT)

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/big-unannounced", dest, policy)

    assert caught.value.description == "download exceeded the 64 KiB limit (FRAMESIEVE_MAX_VIDEO_BYTES)"
    assert not dest.exists()


def test_fetch_truncated_body(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/truncated", dest, loopback_policy)

    assert caught.value.description.startswith("download failed: connection to host 127.0.0.1 broke")
    assert not dest.exists()


def test_fetch_read_timeout_in_body(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"
    policy = replace(loopback_policy, timeout_seconds=0.5)

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/stall-body", dest, policy)

    assert caught.value.description.startswith("timed out after 0.5 s waiting for data")
    assert not dest.exists()


def test_fetch_read_timeout_before_headers(server_url, loopback_policy, tmp_path):
    policy = replace(loopback_policy, timeout_seconds=0.5)

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/stall-headers", tmp_path / "out.bin", policy)

    assert caught.value.description.startswith("timed out after 0.5 s waiting for a response")


def test_fetch_total_time_limit(server_url, loopback_policy, tmp_path):
    dest = tmp_path / "out.bin"
    # Each byte arrives well within the read timeout, but the whole body would take 50 s.
    policy = replace(loopback_policy, timeout_seconds=5.0, total_timeout_seconds=0.5)

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"{server_url}/trickle", dest, policy)

    assert caught.value.description == "timed out after 0.5 s (total download time limit)"
    assert not dest.exists()


def test_fetch_connection_refused(loopback_policy, tmp_path):
    # Bind then close a socket to get a local port that nothing listens on.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"http://127.0.0.1:{port}/video", tmp_path / "out.bin", loopback_policy)

    assert caught.value.description.startswith(f"could not connect to host 127.0.0.1 port {port}")


def test_fetch_refuses_forbidden_first_url(loopback_policy, tmp_path, socket_events):
    with pytest.raises(VideoError) as caught:
        fetch_to_file("http://169.254.169.254/latest/meta-data/", tmp_path / "out.bin", loopback_policy)

    assert caught.value.description.startswith("download rejected: url host 169.254.169.254 is a forbidden address")
    assert connected_hosts(socket_events) == set()


# --- fetch_to_file over HTTPS ------------------------------------------------


def _self_signed(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / f"{names[0]}.crt"
    key_path = tmp_path / f"{names[0]}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize(("cert_names", "succeeds"), [(["localhost"], True), (["other.test"], False)])
def test_fetch_https_verifies_host_name(tmp_path, loopback_policy, socket_events, cert_names, succeeds):
    cert_path, key_path = _self_signed(tmp_path, cert_names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server, release, thread = start_server(context)
    port = server.server_address[1]
    policy = replace(loopback_policy, ca_bundle=cert_path)
    dest = tmp_path / "host.txt"

    try:
        if succeeds:
            result = fetch_to_file(f"https://localhost:{port}/host", dest, policy)
            assert dest.read_text() == f"localhost:{port}"
            assert result.final_url == f"https://localhost:{port}/host"
        else:
            with pytest.raises(VideoError) as caught:
                fetch_to_file(f"https://localhost:{port}/host", dest, policy)
            assert caught.value.description.startswith("TLS connection to host localhost failed")
            assert not dest.exists()
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)

    assert connected_hosts(socket_events) <= {"127.0.0.1", "::1"}


# --- fetch_to_file from file:// ---------------------------------------------


def test_fetch_file_inside_root(media, tmp_path):
    root, policy = media
    dest = tmp_path / "copy.bin"

    result = fetch_to_file(f"file://{root}/clips/a.avi", dest, policy)

    assert dest.read_bytes() == b"inside" * 100
    assert result.size_bytes == 600
    assert result.final_url == (root / "clips" / "a.avi").as_uri()


@pytest.mark.parametrize("relative", ["../secret.bin", "escape.avi", "escape-dir/b.avi"])
def test_fetch_file_outside_root(media, tmp_path, relative):
    root, policy = media
    dest = tmp_path / "copy.bin"

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"file://{root}/{relative}", dest, policy)

    assert "outside FRAMESIEVE_MEDIA_ROOT" in caught.value.description
    assert not dest.exists()


def test_fetch_file_size_limit(media, tmp_path):
    root, policy = media
    dest = tmp_path / "copy.bin"

    with pytest.raises(VideoError) as caught:
        fetch_to_file(f"file://{root}/clips/a.avi", dest, replace(policy, max_bytes=100))

    assert caught.value.description.startswith("download exceeded the 100 bytes limit")
    assert not dest.exists()


def test_format_size():
    assert format_size(4 * 1024**3) == "4 GiB"
    assert format_size(512 * 1024**2) == "512 MiB"
    assert format_size(64 * 1024) == "64 KiB"
    assert format_size(1000) == "1000 bytes"
