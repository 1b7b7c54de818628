"""The ``framesieve`` command: serve the API, manage API keys, run the demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from framesieve.settings import Settings


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from framesieve import runtime, server

    # Signed links embed the server's address, so the flags must reach the
    # settings that the runtime reads, not only the listening socket.
    if args.host:
        os.environ["FRAMESIEVE_HOST"] = args.host
    if args.port:
        os.environ["FRAMESIEVE_PORT"] = str(args.port)
    settings = Settings.from_env()
    runtime.current()
    server.serve(args.host or settings.host, args.port or settings.port)
    return 0


def _cmd_api_key_create(args: argparse.Namespace) -> int:
    from framesieve import runtime
    from framesieve.auth import create_api_key

    settings = Settings.from_env()
    current = runtime.current()
    raw_key, record = create_api_key(
        current.records,
        args.name,
        can_store=not args.no_store,
        videos_left=args.videos if args.videos is not None else settings.default_videos_quota,
        hours_left=args.hours if args.hours is not None else settings.default_hours_quota,
    )
    print(f"Created API key for {record.name}: videos_left={record.videos_left} hours_left={record.hours_left} can_store={record.can_store}")
    print("Store it now; only its hash is kept:")
    print(raw_key)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from framesieve.demo import run_demo

    return run_demo(args.video, args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framesieve", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug lines")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API on FRAMESIEVE_HOST:FRAMESIEVE_PORT")
    serve.add_argument("--host", help="address to bind (default FRAMESIEVE_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default FRAMESIEVE_PORT, 8000)")
    serve.set_defaults(handler=_cmd_serve)

    api_key = commands.add_parser("api-key", help="manage API keys")
    api_key_commands = api_key.add_subparsers(dest="api_key_command", required=True)
    create = api_key_commands.add_parser("create", help="create a key; prints it as the last line")
    create.add_argument("--name", required=True, help="customer name shown in customer_info")
    create.add_argument("--videos", type=int, help="videos this key may push (default FRAMESIEVE_DEFAULT_VIDEOS_QUOTA)")
    create.add_argument("--hours", type=float, help="video hours this key may process (default FRAMESIEVE_DEFAULT_HOURS_QUOTA)")
    create.add_argument("--no-store", action="store_true", help="do not keep frame images for this customer (can_store false)")
    create.set_defaults(handler=_cmd_api_key_create)

    demo = commands.add_parser("demo", help="start the server, index the demo video, query and export it")
    demo.add_argument("--video", help="video file to push (default: the committed vtest.avi)")
    demo.add_argument("--port", type=int, default=0, help="port for the demo server (default: a free one)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.handler(args)
    except ValueError as exc:
        print(f"framesieve: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
