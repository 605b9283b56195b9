"""The provider map measured in headless Chromium, against the real app on 127.0.0.1.

Bounds:
- "Add to targets", click until the dot is restyled: median <= 0.5 s on the demo, with the
  Leaflet map not re-created (a sentinel set on the map frame's window survives);
- 10,000 providers in the radius: first draw <= 2 s after the page's load event; a pan or
  zoom frame <= 50 ms (p90 of the frames timed with requestAnimationFrame while the map is
  dragged and wheel-zoomed). The same 10,000 dots drawn the old
  way (one SVG path per marker) are timed in the same run, on a bare Leaflet page;
- warm page load until the markers are drawn: <= 2.5 s on the demo;
- time to value: from the first page load on the demo, 15 new targets within 5 miles in
  <= 10 clicks (with the suggested list) and <= 20 s.

The server-side build for 10,000 providers is in bench_map.py. Figures taken on a loaded
machine are slower than on an idle one; say which when you quote them.

Run: .venv/bin/python benchmarks/bench_map_browser.py   (exit status 1 if a bound is missed)
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Frame, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import db, demo  # noqa: E402
from tests.e2e.conftest import CHROME_ARGS, start_app, stop_app  # noqa: E402
from tests.e2e.map_driver import (  # noqa: E402
    MAP_IFRAME,
    add_synthetic_providers,
    click_marker,
    lonely_off_list_npi,
    map_frame,
)

VIEWPORT = {"width": 1400, "height": 1000}

#: Records every animation frame's length while the user drags and wheel-zooms the map;
#: `__stopFrames()` returns them. A frame is one requestAnimationFrame interval: script, canvas
#: or SVG redraw, layout and paint together.
FRAME_RECORDER = """() => {
    const times = [];
    let last = performance.now(), stop = false;
    const tick = (t) => { times.push(t - last); last = t; if (!stop) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    window.__stopFrames = () => {
        stop = true;
        const s = times.slice(1).sort((a, b) => a - b);
        return {n: s.length, median: s[s.length >> 1], p90: s[Math.floor(s.length * 0.9)],
                max: s[s.length - 1]};
    };
    return true;
}"""


def pan_and_zoom_frames(page: Page, target: Page | Frame, box: dict[str, float]) -> dict:
    """Drag the map across, let it settle, wheel-zoom in and out; the frame lengths meanwhile."""
    target.evaluate(FRAME_RECORDER)
    x, y = box["x"] + box["width"] / 2, box["y"] + min(box["height"], 500) / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 31):
        page.mouse.move(x + 6 * i, y + 3 * i)
        page.wait_for_timeout(16)
    page.mouse.up()
    page.wait_for_timeout(600)
    for delta in (-240, 240):
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(900)
    return target.evaluate("window.__stopFrames()")


BARE_PAGE = """<!doctype html><html><head>
<link rel="stylesheet" href="{base}/app/static/vendor/leaflet/leaflet.css">
<script src="{base}/app/static/vendor/leaflet/leaflet.js"></script>
<style>html,body,#m{{margin:0;height:100%}}</style></head>
<body><div id="m"></div></body></html>"""

BARE_DRAW = """([lat, lon, n, canvas]) => {
    const t0 = performance.now();
    const map = L.map('m', {preferCanvas: false}).setView([lat, lon], 10);
    const renderer = canvas ? L.canvas({padding: 0.5}) : L.svg();
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const group = L.featureGroup();
    for (let i = 0; i < n; i++) {
        const r = 24 * Math.sqrt(rnd()) / 69.05, t = rnd() * 2 * Math.PI;
        const k = Math.cos(lat * Math.PI / 180);
        L.circleMarker([lat + r * Math.cos(t), lon + r * Math.sin(t) / k],
            {renderer, radius: 6, weight: 1, color: '#fff', fillColor: '#1f77b4', fillOpacity: .75})
            .bindTooltip('Provider ' + i).addTo(group);
    }
    group.addTo(map);
    window.__map = map;
    return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(
        () => r(performance.now() - t0))));
}"""


def _prepared(tmp: Path, dense: int = 0) -> tuple[Path, tuple[float, float]]:
    path = tmp / "atlas.db"
    engine = db.make_engine(f"sqlite:///{path}")
    demo.ensure_demo(engine)
    with engine.connect() as conn:
        home = conn.execute(
            sa.select(db.practice.c.lat, db.practice.c.lon).where(db.practice.c.is_demo)
        ).one()
    engine.dispose()
    if dense:
        add_synthetic_providers(path, dense, float(home.lat), float(home.lon), 24.0)
    return path, (float(home.lat), float(home.lon))


def _partners(path: Path) -> int:
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(db.partner)).scalar_one()
    engine.dispose()
    return int(n)


def time_to_value(page: Page, url: str, path: Path) -> tuple[float, int, int]:
    """From the first page load: suggest, then add. Returns (seconds, clicks, targets added)."""
    before = _partners(path)
    clicks = 0
    t0 = time.perf_counter()
    page.goto(url)
    map_frame(page)
    page.get_by_role("button", name="Suggest a target list").click()
    clicks += 1
    add = page.get_by_role("button", name="suggested to targets")
    add.wait_for(timeout=60_000)
    add.click()
    clicks += 1
    page.get_by_text("providers to your targets.").wait_for(timeout=60_000)
    elapsed = time.perf_counter() - t0
    return elapsed, clicks, _partners(path) - before


def add_in_place(page: Page, url: str, rounds: int = 5) -> tuple[float, list[float], bool]:
    """Median click-to-restyle of "Add to targets", and whether the map survived every add."""
    page.goto(url)
    frame = map_frame(page)
    frame.evaluate("window.__sentinel = 1")
    page.wait_for_timeout(500)
    times: list[float] = []
    done: list[str] = []
    for _ in range(rounds):
        # clicking "Add to targets" scrolled the page to the card: back to the map, as a user
        page.locator(MAP_IFRAME).evaluate("el => el.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        npi = lonely_off_list_npi(page, frame, skip=tuple(done))
        click_marker(page, frame, npi)
        add = page.get_by_role("button", name="Add to targets")
        try:
            add.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path="/tmp/bench_map_add_failed.png")
            raise
        page.locator(".st-key-provider_card h4").wait_for()
        t0 = time.perf_counter()
        add.click()
        frame.wait_for_function(
            f"window.__raLayer.byNpi['{npi}'].feature.properties.tip.includes('On your list')",
            timeout=60_000,
            polling="raf",
        )
        times.append(time.perf_counter() - t0)
        done.append(npi)
        page.get_by_text("On your list").first.wait_for()
    kept = frame.evaluate("window.__sentinel") == 1
    return statistics.median(times), times, kept


def warm_load(page: Page, url: str, rounds: int = 3) -> float:
    page.goto(url)
    map_frame(page)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        page.goto(url)
        map_frame(page)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def dense_first_draw(page: Page, url: str) -> tuple[float, float, Frame]:
    """(seconds from navigation, seconds from the load event) until 10,000 dots are drawn."""
    page.goto(f"{url}/?radius=25")  # warm: the server's cache of the 10,000 providers
    map_frame(page, timeout_s=180).wait_for_function("window.__raDrawn >= 10000", timeout=180_000)
    t0 = time.perf_counter()
    page.goto(f"{url}/?radius=25", wait_until="load")
    t_load = time.perf_counter()
    frame = map_frame(page, timeout_s=180)
    frame.wait_for_function("window.__raDrawn >= 10000", timeout=180_000, polling="raf")
    t1 = time.perf_counter()
    return t1 - t0, t1 - t_load, frame


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as pw:
        tmp = Path(tmp_dir)
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROME_ARGS)

        (tmp / "demo").mkdir()
        path, _ = _prepared(tmp / "demo")
        url, proc = start_app(path)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            seconds, clicks, added = time_to_value(page, url, path)
            print(f"time to value: {added} new targets in {clicks} clicks, {seconds:.1f} s "
                  "(bounds: >= 15 targets, <= 10 clicks, <= 20 s)")  # fmt: skip
            ok &= added >= 15 and clicks <= 10 and seconds <= 20
            page.close()
            page = browser.new_page(viewport=VIEWPORT)
            load = warm_load(page, url)
            print(f"warm page load until the markers are drawn (demo, median of 3): {load:.2f} s "
                  "(bound: <= 2.5 s)")  # fmt: skip
            ok &= load <= 2.5
            median, times, kept = add_in_place(page, url)
            print(f"add to targets, click until restyled (median of {len(times)}): "
                  f"{median:.2f} s [{', '.join(f'{t:.2f}' for t in times)}]; map kept: {kept} "
                  "(bounds: <= 0.5 s, map kept)")  # fmt: skip
            ok &= median <= 0.5 and kept
            page.close()
        finally:
            stop_app(proc)

        (tmp / "dense").mkdir()
        dense_path, (lat, lon) = _prepared(tmp / "dense", dense=10_000)
        url, proc = start_app(dense_path)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            from_nav, from_load, frame = dense_first_draw(page, url)
            print(f"10,000 providers, app: drawn {from_nav:.2f} s after navigation, "
                  f"{from_load:.2f} s after the load event (bound: <= 2 s after load)")  # fmt: skip
            ok &= from_load <= 2.0
            page.locator(MAP_IFRAME).evaluate("el => el.scrollIntoView({block: 'start'})")
            box = page.locator(MAP_IFRAME).bounding_box()
            frames = pan_and_zoom_frames(page, frame, box)
            print(f"10,000 providers, app (canvas): {frames['n']} frames while dragging and "
                  f"zooming: median {frames['median']:.0f} ms, p90 {frames['p90']:.0f} ms, "
                  f"max {frames['max']:.0f} ms (bound: p90 <= 50 ms)")  # fmt: skip
            ok &= frames["p90"] <= 50
            for name, canvas in (("canvas", True), ("one SVG path per marker (old)", False)):
                bare = browser.new_page(viewport=VIEWPORT)
                bare.set_content(BARE_PAGE.format(base=url))
                bare.wait_for_function("window.L !== undefined")
                draw = bare.evaluate(BARE_DRAW, [lat, lon, 10_000, canvas])
                full = {"x": 0, "y": 0, **VIEWPORT}
                probe = pan_and_zoom_frames(bare, bare, full)
                print(f"10,000 providers, bare Leaflet, {name}: first draw {draw:.0f} ms; "
                      f"{probe['n']} frames while dragging and zooming: median "
                      f"{probe['median']:.0f} ms, p90 {probe['p90']:.0f} ms, max "
                      f"{probe['max']:.0f} ms")  # fmt: skip
                bare.close()
            page.close()
        finally:
            stop_app(proc)
        browser.close()
    print("OK" if ok else "BOUND MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
