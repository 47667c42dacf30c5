"""`python -m api [--host HOST] [--port PORT]`: run the service, as `longtail serve` does."""

from __future__ import annotations

import argparse

from api.main import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description="Run the longtail HTTP service.")
    parser.add_argument("--host", default=None, help="Address to bind; LONGTAIL_HOST or 127.0.0.1 by default.")
    parser.add_argument("--port", type=int, default=None, help="Port to bind; LONGTAIL_PORT or 8000 by default.")
    arguments = parser.parse_args(argv)
    serve(host=arguments.host, port=arguments.port)


if __name__ == "__main__":
    main()
