"""scripts/serve.py: the real server on a free port, its HTTP API against predict.py, bad requests, and
the page in a real browser (Debian's chromium driven by Playwright), on a small run made here: of real MNIST
where it is found (drawn digits need it), else of the digits set."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import httpx
import numpy as np
import pytest
from PIL import Image

from results.run import layout
from runs import ROOT, run_cli, write_space

pytestmark = pytest.mark.slow  # a whole (small) search, retrain and test first

SERVE_SCRIPT = ROOT / "scripts" / "serve.py"
PREDICT_SCRIPT = ROOT / "scripts" / "predict.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# A model good enough to read drawn digits: 6,000 real MNIST images, one trial, 3 retraining epochs
# (97.6% on the test set; about 25 s on 2 cores).
SPACE = dict(
    conv_blocks_min=2,
    conv_blocks_max=2,
    filters_min=16,
    filters_max=32,
    dense_units_min=64,
    dense_units_max=64,
    learning_rate_min=0.02,
    learning_rate_max=0.05,
    momentum_min=0.9,
    momentum_max=0.9,
    dropout_min=0.0,
    dropout_max=0.0,
    batch_size_min=64,
    batch_size_max=64,
)


MNIST = Path(os.environ.get("MNIST_DATA") or ROOT.parent / "shared" / "data" / "mnist.npz")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """The served run: on 6,000 real MNIST images where MNIST is found; offline, on the digits set (the
    API needs no more; the browser tests, which read drawn digits and photos, then skip)."""
    folder = tmp_path_factory.mktemp("serve")
    space = write_space(folder / "space.toml", **SPACE)
    run = folder / "run"
    if MNIST.exists():
        args = ["--data", MNIST, "--subset", 6000, "--epochs", 3]
    else:
        args = ["--dataset", "digits", "--epochs", 10]
    args += ["--tuner", "random", "--max-trials", 1, "--max-epochs", 1, "--no-augment", "--no-tta", "--no-ema"]
    done = run_cli(*args, "--space", space, "--run-dir", run, "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    return run


def start_server(*args, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """scripts/serve.py ARGS, and the address from its `serving RUN_DIR at URL` line."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVE_SCRIPT), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not first or not first[0].startswith("serving "):
        proc.kill()
        raise AssertionError(f"no 'serving' line: {first!r}; stderr: {proc.stderr.read()[-2000:]}")
    return proc, first[0].split(" at ")[-1].strip()


@pytest.fixture(scope="module")
def server(run_dir):
    proc, url = start_server(run_dir, "--port", 0)
    yield url
    proc.send_signal(signal.SIGINT)  # Ctrl-C: a graceful stop
    assert proc.wait(60) == 0
    errors = proc.stderr.read()
    assert errors == "", errors


class Photos(NamedTuple):
    """Image files in `folder`: {file name: (its digits, their true boxes)}."""

    folder: Path
    files: dict[str, tuple[list[int], list[tuple[int, int, int, int]]]]


@pytest.fixture(scope="module")
def photos(run_dir, tmp_path_factory) -> Photos:
    """A photo-like number and a single digit, made from test images the run's model read right and surely."""
    from search.bench.photo_like import make_picture

    with np.load(run_dir / layout.PREDICTIONS) as npz:
        images, labels, probabilities = npz["images"], npz["labels"], npz["probabilities"]
    right = probabilities.argmax(axis=1) == labels
    # Of each digit, the test image read right most surely (over 0.999 on MNIST).
    chosen = [max(np.flatnonzero(right & (labels == d)), key=lambda i: probabilities[i].max()) for d in (4, 0, 9, 3)]
    sure = np.flatnonzero(right & (probabilities.max(axis=1) >= probabilities[chosen].max(axis=1).min()))
    folder = tmp_path_factory.mktemp("photos")
    out = {}
    number = make_picture([images[i] for i in chosen], [labels[i] for i in chosen], "plain", np.random.default_rng(7))
    Image.fromarray(number.pixels).save(folder / "number.jpg", quality=90)
    out["number.jpg"] = (number.digits, number.boxes)
    single = make_picture([images[sure[0]]], [labels[sure[0]]], "ruled", np.random.default_rng(8))
    Image.fromarray(single.pixels).save(folder / "digit.png")
    out["digit.png"] = (single.digits, single.boxes)
    return Photos(folder, out)


def post(url: str, body, **params) -> httpx.Response:
    return httpx.post(f"{url}/predict", content=body, params=params, timeout=60)


def assert_still_serving(url: str) -> None:
    health = httpx.get(f"{url}/health", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"


# --- the API ------------------------------------------------------------------------------------


def test_health_names_the_run_and_its_test_accuracy_on_loopback(server, run_dir):
    assert server.startswith("http://127.0.0.1:")  # no --host: loopback only
    health = httpx.get(f"{server}/health", headers={"Origin": "http://example.com"}, timeout=30)
    assert health.status_code == 200
    metrics = json.loads((run_dir / layout.METRICS).read_text())
    body = health.json()
    assert body["status"] == "ok" and body["run"] == run_dir.name
    assert body["dataset"] == metrics["dataset"]["name"] == ("mnist" if MNIST.exists() else "digits")
    assert body["test_accuracy"] == metrics["test_accuracy"] > 0.9
    assert body["report"] is None and "report.py" in body["make_report"]
    assert not any(h.lower().startswith("access-control-") for h in health.headers)


def test_the_api_answers_as_predict_py_does(server, run_dir, photos):
    done = subprocess.run(
        [sys.executable, str(PREDICT_SCRIPT), str(run_dir), *photos.files, "--json"],
        capture_output=True,
        text=True,
        cwd=photos.folder,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    expected = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["file"] for e in expected] == list(photos.files)
    for name, answer in zip(photos.files, expected, strict=True):
        data = (photos.folder / name).read_bytes()
        response = post(server, data, name=name)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert response.json() == answer
        assert post(server, data).json() == {**answer, "file": "upload"}  # the documented default
        detailed = post(server, data, name=name, probabilities=1).json()
        for digit in detailed["digits"]:
            ten = digit.pop("probabilities")
            assert len(ten) == 10 and abs(sum(ten) - 1) < 1e-4
            assert int(np.argmax(ten)) == digit["digit"] and ten[digit["digit"]] == digit["probability"]
        assert detailed == answer


def test_concurrent_requests_are_all_answered_as_one_alone(server, photos):
    files = {name: (photos.folder / name).read_bytes() for name in photos.files}
    alone = {name: post(server, data, name=name).json() for name, data in files.items()}
    jobs = [name for name in files for _ in range(8)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda name: (name, post(server, files[name], name=name)), jobs))
    assert all(r.status_code == 200 for _, r in answers)
    assert all(r.json() == alone[name] for name, r in answers)


def _huge_png() -> bytes:
    """A small file whose header says 10,000 x 10,000 pixels (100 million: over the 64 million read)."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(out, format="PNG")
    return out.getvalue()


def chunks(size: int, piece: int = 1 << 20):
    """A body of `size` bytes sent in chunks, with no Content-Length."""
    for start in range(0, size, piece):
        yield b"\0" * min(piece, size - start)


@pytest.mark.parametrize(
    ("case", "status", "says"),
    [
        ("no body", 400, "empty body"),
        ("empty body", 400, "empty body"),
        ("not an image", 400, "not an image"),
        ("a text file", 400, "not an image"),
        ("too many pixels", 400, "million"),
        ("no digit", 400, "no digit"),
        ("over 10 MB, declared", 413, "10 MB"),
        ("over 10 MB, chunked", 413, "10 MB"),
        ("GET /predict", 405, "Method Not Allowed"),
        ("no such page", 404, "Not Found"),
        ("no report yet", 404, "scripts/report.py"),
    ],
)
def test_a_bad_request_gets_its_status_and_a_json_error_and_the_server_goes_on(server, case, status, says):
    blank = io.BytesIO()
    Image.new("L", (64, 64), 230).save(blank, format="PNG")
    requests = {
        "no body": lambda: httpx.post(f"{server}/predict", timeout=30),
        "empty body": lambda: post(server, b""),
        "not an image": lambda: post(server, os.urandom(5000)),
        "a text file": lambda: post(server, b"7\n"),
        "too many pixels": lambda: post(server, _huge_png()),
        "no digit": lambda: post(server, blank.getvalue()),
        "over 10 MB, declared": lambda: post(server, b"\0" * (10 * 1024 * 1024 + 1)),
        "over 10 MB, chunked": lambda: post(server, chunks(11 * 1024 * 1024)),
        "GET /predict": lambda: httpx.get(f"{server}/predict", timeout=30),
        "no such page": lambda: httpx.get(f"{server}/nothing/here", timeout=30),
        "no report yet": lambda: httpx.get(f"{server}/report/", timeout=30),
    }
    response = requests[case]()
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"} and says in response.json()["error"]
    assert_still_serving(server)


def test_a_missing_or_damaged_run_or_a_taken_port_stops_the_start_with_one_line(run_dir, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(run_dir, damaged)
    (damaged / layout.MODEL).write_bytes(b"not a zip")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            tmp_path / "absent": "no such folder",
            damaged: layout.MODEL,
        }
        outcomes = [(str(path), "--port", 0, says) for path, says in cases.items()]
        outcomes.append((str(run_dir), "--port", port, "cannot listen"))
        for *args, says in outcomes:
            done = subprocess.run([sys.executable, str(SERVE_SCRIPT), *map(str, args)], capture_output=True, text=True)
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
            assert done.stdout == ""


# --- the page, in a real browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # each answer waits on the model, on 2 busy cores
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def draw(page, points: list[tuple[float, float]], release: bool = True) -> None:
    """Draw a stroke on the pad with the mouse through `points` (fractions of the pad's width and height)."""
    box = page.locator("#pad").bounding_box()
    at = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=6)
    if release:
        page.mouse.up()


SEVEN = [(0.28, 0.24), (0.72, 0.24), (0.44, 0.82)]
ZERO = [(0.5 + 0.17 * math.sin(t * math.pi / 12), 0.5 - 0.28 * math.cos(t * math.pi / 12)) for t in range(25)]
DASH = [(0.2, 0.5), (0.8, 0.5)]  # far wider than any digit: "unsure" whatever the model says


def test_a_digit_drawn_with_the_mouse_is_read_as_it_is_drawn(mnist_path, server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(server)
    expect(page.locator("#run")).to_contain_text("test accuracy")
    expect(page.locator("#report")).to_contain_text("scripts/report.py")

    draw(page, SEVEN, release=False)
    expect(page.locator("#bars .bar.top")).to_have_count(1)  # answered while the pen is still down
    page.mouse.up()
    expect(page.locator("#answer-digit")).to_have_text("7")
    expect(page.locator("#bars .bar.top")).to_have_attribute("data-digit", "7")
    shares = [float(bar.get_attribute("data-p")) for bar in page.locator("#bars .bar").all()]
    assert len(shares) == 10 and abs(sum(shares) - 1) < 1e-3 and int(np.argmax(shares)) == 7

    page.click("#clear")
    expect(page.locator("#answer-digit")).to_have_text("\u00a0")
    expect(page.locator("#bars .bar.top")).to_have_count(0)
    draw(page, ZERO)
    expect(page.locator("#answer-digit")).to_have_text("0")
    expect(page.locator("#unsure")).to_be_hidden()

    page.click("#clear")
    draw(page, DASH)
    expect(page.locator("#unsure")).to_be_visible()
    assert all(url.startswith(server) or url.startswith(("data:", "blob:")) for url in asked), asked
    page.close()


def test_a_dropped_photo_of_a_number_is_read_with_each_digit_boxed(mnist_path, server, browser, photos, run_dir):
    from playwright.sync_api import expect

    digits, boxes = photos.files["number.jpg"]
    page = browser.new_page(viewport={"width": 1000, "height": 1000})
    page.goto(server)
    data = base64.b64encode((photos.folder / "number.jpg").read_bytes()).decode()
    dropped = page.evaluate_handle(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "number.jpg", { type: "image/jpeg" }));
            return transfer;
        }""",
        data,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    expect(page.locator("#photo-answer")).to_have_attribute("data-number", "".join(map(str, digits)))
    shown = page.locator("#photo .box")
    expect(shown).to_have_count(len(digits))
    assert [int(b.get_attribute("data-digit")) for b in shown.all()] == digits
    photo = page.locator("#photo-img").bounding_box()
    natural = page.locator("#photo-img").evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    scale = natural[0] / photo["width"]
    for element, (x0, y0, x1, y1) in zip(shown.all(), boxes, strict=True):
        b = element.bounding_box()
        left, top = (b["x"] - photo["x"]) * scale, (b["y"] - photo["y"]) * scale
        right, bottom = left + b["width"] * scale, top + b["height"] * scale
        overlap = max(0, min(right, x1) - max(left, x0)) * max(0, min(bottom, y1) - max(top, y0))
        union = (right - left) * (bottom - top) + (x1 - x0) * (y1 - y0) - overlap
        assert overlap / union > 0.5, ((left, top, right, bottom), (x0, y0, x1, y1))

    page.set_input_files("#file", photos.folder / "digit.png")  # chosen rather than dropped
    expect(page.locator("#photo-answer")).to_have_attribute("data-number", str(photos.files["digit.png"][0][0]))
    expect(page.locator("#photo .box")).to_have_count(1)

    (run_dir / layout.REPORT).mkdir(exist_ok=True)
    (run_dir / layout.REPORT / layout.REPORT_HTML).write_text("<h1>the run's report</h1>")
    try:
        page.reload()
        page.click("#report a")
        expect(page.locator("h1")).to_have_text("the run's report")
    finally:
        shutil.rmtree(run_dir / layout.REPORT)
    page.close()
