"""A local server for a run's best model: the page to draw or drop digits on (GET /), the HTTP API
(POST /predict, GET /health) and the run's report (/report/).

POST /predict takes an image file's bytes as the body and answers with the JSON of
`predict.py RUN_DIR FILE --json`; `?name=FILE` sets its "file" (by default "upload"), `?probabilities=1`
adds each digit's ten probabilities (the page's bars). Every error is JSON {"error": "..."}.
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path

import anyio
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from results.deploy.answers import DEFAULT_NAME, Reader
from results.photos import ImageError
from results.run import layout

MAX_BODY = 10 * 1024 * 1024  # bytes of an uploaded image file
PAGE = Path(__file__).resolve().parent / "page"
REPORT_URL = "/report"  # where the run's report folder is served
# Images decoded and cleaned at once: each can take several hundred MB (results/photos/images.py MAX_PIXELS).
READING_AT_ONCE = max(1, min(4, os.cpu_count() or 1))


def make_app(reader: Reader) -> Starlette:
    """The server's ASGI app for a loaded run."""
    limiter = anyio.CapacityLimiter(READING_AT_ONCE)
    report = reader.run.report_dir

    async def predict(request: Request) -> JSONResponse:
        body = await _body(request)
        if not body:
            return _error(400, "empty body: send the image file's bytes as the request body")
        name = request.query_params.get("name") or DEFAULT_NAME
        detail = request.query_params.get("probabilities", "") not in ("", "0", "false")
        try:
            answer = await anyio.to_thread.run_sync(reader.answer, body, name, detail, limiter=limiter)
        except ImageError as e:
            return _error(400, " ".join(str(e).split()))
        return JSONResponse(answer)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(_health(reader.run, (report / layout.REPORT_HTML).is_file()))

    async def page(request: Request) -> FileResponse:
        return FileResponse(PAGE / "index.html", headers=PAGE_HEADERS)

    routes = [
        Route("/", page),
        Route("/health", health),
        Route("/predict", predict, methods=["POST"]),
        Mount("/page", StaticFiles(directory=PAGE)),
        Mount(REPORT_URL, _ReportFiles(reader.run)),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error})


# The page loads nothing from elsewhere; its photo previews are blob: URLs.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


class _ReportFiles(StaticFiles):
    """The run's report folder, which report.py may write while the server runs: a missing file is a
    404 whose error says how to make the report."""

    def __init__(self, run):
        self.folder = run.report_dir
        self.make = _make_report(run)
        super().__init__(directory=self.folder, html=True, check_dir=False)

    async def check_config(self) -> None:
        """Nothing to check: the folder may not exist yet."""

    async def get_response(self, path: str, scope):
        try:
            return await super().get_response(path, scope)
        except HTTPException as e:
            if e.status_code != 404:
                raise
            if (self.folder / layout.REPORT_HTML).is_file():
                raise HTTPException(404, f"no such file in the report ({path})") from None
            raise HTTPException(404, f"no report yet: make it with `{self.make}`") from None


async def _body(request: Request) -> bytes:
    """The request's body; HTTPException 413 as soon as it is declared or counted over MAX_BODY.
    (Starlette's max_body_size answers a declared one in plain text, and every error here is JSON.)"""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413)
    return bytes(body)


def _health(run, has_report: bool) -> dict:
    """GET /health: the run served and its test accuracy."""
    return {
        "status": "ok",
        "run": run.name,
        "run_dir": str(run.path),
        "dataset": run.config.get("search", {}).get("dataset"),
        "test_accuracy": run.metrics["test_accuracy"],
        "test_count": run.metrics["test_count"],
        "report": f"{REPORT_URL}/{layout.REPORT_HTML}" if has_report else None,
        "make_report": _make_report(run),
    }


def _make_report(run) -> str:
    return f"python scripts/report.py {run.path}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = {413: f"body over {MAX_BODY // (1024 * 1024)} MB"}.get(exc.status_code, exc.detail)
    return _error(exc.status_code, message)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return _error(500, f"internal error ({type(exc).__name__}: {exc})")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free one) and listening (OSError when it cannot be)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def url_of(sock: socket.socket) -> str:
    """The http:// address a listening socket answers at."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, calling `ready` once it accepts requests and Ctrl-C stops it gracefully."""

    def __init__(self, config: uvicorn.Config, ready):
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready()


def serve_run(run_dir: str, host: str, port: int, announce=print) -> None:
    """Load the run at `run_dir`, listen on host:port, `announce` the address once requests are
    answered, and serve until Ctrl-C or SIGTERM. A missing or damaged run raises RunError (or what
    reading it raised), a port that cannot be had OSError, all before anything is served."""
    from results.run import open_run

    # Pillow warns of any image over 89 million pixels as it opens it; read_greyscale refuses those (over
    # its 64 million) from the header, so the warning would only be noise on the server's stderr.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    run = open_run(run_dir)
    _health(run, False)  # read config.json and metrics.json now: a damaged one stops the start
    sock = listening_socket(host, port)  # before the model's seconds of loading: a taken port fails at once
    reader = Reader(run)
    config = uvicorn.Config(make_app(reader), log_level="warning", access_log=False, server_header=False)
    _AnnouncingServer(config, lambda: announce(f"serving {run_dir} at {url_of(sock)}")).run(sockets=[sock])
