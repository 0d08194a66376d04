"""Save a screenshot of every page of the app into ``assets/`` (the README's pictures).

Usage::

    python tests/browser/screenshots.py                 # real bundled MiniLM, adapter demo (a few minutes)
    python tests/browser/screenshots.py --fake          # deterministic fake encoder (seconds)
    python tests/browser/screenshots.py --method full --out /tmp/shots

It starts ``streamlit run app.py`` on a free port with a temporary workspace, runs the one-click demo in
headless Debian chromium at laptop width (1280 px), visits every page through the sidebar and saves
``home.png``, ``data.png``, ``train.png``, ``latent.png``, ``similarity.png``, ``metrics.png``, ``inspect.png``
and ``search.png``, then ``latent-learning.png`` (the Latent page with its "Watching the model learn" section
open). It stops with an error if a page shows an exception.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_flows import (  # noqa: E402
    PLOT,
    ROOT,
    heading,
    launch_chromium,
    nav,
    new_context,
    open_app,
    run_demo,
    screenshot,
    settle,
    start_server,
    stop_server,
    visit_all,
)


def learning_shot(page, out: Path) -> None:
    """The Latent page with its training snapshots' section ("Watching the model learn") open."""
    nav(page, "Latent space")
    heading(page, "Latent space").wait_for()
    page.locator(PLOT).first.wait_for()
    page.locator("summary").filter(has_text="Watching the model learn").first.click()
    page.locator(PLOT).nth(1).wait_for()
    settle(page)
    screenshot(page, out / "latent-learning.png")


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, take the screenshots; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder for the PNG files (default: assets/)")
    parser.add_argument("--fake", action="store_true", help="use the fake encoder instead of the real MiniLM")
    parser.add_argument("--method", choices=["adapter", "full"], default="adapter", help="demo training method")
    parser.add_argument("--demo-timeout", type=float, default=900, help="seconds the demo may take (default 900)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="explorer-shots-") as tmp:
        server = start_server(Path(tmp) / "home", Path(tmp) / "streamlit.log", encoder="fake" if args.fake else None)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                page = new_context(browser).new_page()
                start = time.monotonic()
                open_app(page, server)
                run_demo(page, args.method, timeout_ms=int(args.demo_timeout * 1000))
                print(f"demo done in {time.monotonic() - start:.0f} s")
                timings = visit_all(page, [args.out])
                learning_shot(page, args.out)
                print(f"pages (s): {timings}\nscreenshots in {args.out}")
                browser.close()
        except Exception:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
