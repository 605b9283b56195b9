"""Local copies of the map's JavaScript and CSS, so the map draws with no network.

folium points Leaflet and jQuery at CDNs, and streamlit-folium stops
rendering at the first file that fails to load: offline, the map is blank. The same files ship
in the xstatic-* packages on PyPI; they are copied into ./static/vendor (git-ignored) at install
and at start, and Streamlit serves them at /app/static/vendor (`enableStaticServing`).

Run `python -m components.assets` to copy them by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import xstatic.pkg.jquery as xs_jquery
import xstatic.pkg.leaflet as xs_leaflet

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static" / "vendor"
URL_PREFIX = "/app/static/vendor"

#: (package data dir, file names, destination folder under static/vendor)
_FILES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        xs_leaflet.BASE_DIR,
        (
            "leaflet.js",
            "leaflet.css",
            "images/layers.png",
            "images/layers-2x.png",
            "images/marker-icon.png",
            "images/marker-icon-2x.png",
            "images/marker-shadow.png",
        ),
        "leaflet",
    ),
    (xs_jquery.BASE_DIR, ("jquery.min.js",), "jquery"),
)
# Leaflet guesses its default icon folder from its CSS, which is attached after the JS here.
_ICON_PATH_JS = f"L.Icon.Default.imagePath = '{URL_PREFIX}/leaflet/images/';\n"

LEAFLET_JS = f"{URL_PREFIX}/leaflet/leaflet.js"
LEAFLET_ICON_PATH_JS = f"{URL_PREFIX}/leaflet/icon-path.js"
LEAFLET_CSS = f"{URL_PREFIX}/leaflet/leaflet.css"
JQUERY_JS = f"{URL_PREFIX}/jquery/jquery.min.js"


def ensure_static_assets(dest: Path = STATIC_DIR) -> list[Path]:
    """Copy any missing or changed asset into `dest`; return what was written.

    Cheap when everything is in place (a stat per file), so the app calls it at every start.
    """
    written: list[Path] = []
    for base, names, sub in _FILES:
        for name in names:
            src = Path(base) / name
            dst = dest / sub / name
            if dst.exists() and dst.stat().st_size == src.stat().st_size:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            written.append(dst)
    icon = dest / "leaflet" / "icon-path.js"
    if not icon.exists() or icon.read_text() != _ICON_PATH_JS:
        icon.parent.mkdir(parents=True, exist_ok=True)
        icon.write_text(_ICON_PATH_JS)
        written.append(icon)
    return written


if __name__ == "__main__":
    copied = ensure_static_assets()
    print(f"map assets in {STATIC_DIR}: {len(copied)} file(s) copied")
