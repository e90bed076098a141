"""The built site in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which
``make test`` / ``make docs`` install) opens the landing page, a task page and an experiment page from a
local HTTP server, as a reader would; each must render with every image loaded and no console error, and
the search box must find a task. Screenshots go to ``runs/docs-browser/`` for a human look."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from agents.experiments import docs_site
from tests import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "runs" / "docs-browser"
# (screenshot name, page, text the page must show, images it must show at least)
PAGES = [
    ("landing", "index.html", "Two commands", 0),
    ("task", "tasks/OrientationDiscrimination.html", "Registered ids", 1),
    ("experiment", "experiments/fig2.html", "Audited numbers", 1),
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request lines in the test output
        pass


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site (without the API pages, which this test does not open) served on a free local port."""
    out = tmp_path_factory.mktemp("docs")
    docs_site.build(docs_site.generate(out, api=False), out / "site")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out / "site")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium with no network of its own (no sync, no component updates, no first-run pages)."""
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "the browser test needs Debian's chromium and chromium-driver: `make test` installs them "
        "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))  # no Selenium Manager download
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _loaded_images(driver: webdriver.Chrome) -> tuple[int, list[str]]:
    """(number of <img> in the article, the sources of those that did not load)."""
    state = driver.execute_script(
        "const imgs = [...document.querySelectorAll('article img')];"
        "return [imgs.length, imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)];")
    return int(state[0]), list(state[1])


@pytest.mark.parametrize(("name", "page", "text", "min_images"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_with_its_images_and_no_console_error(browser, site_url, name, page, text, min_images):
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(site_url + page)
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('article img')].every(i => i.complete)"))
    assert text in browser.find_element(By.TAG_NAME, "article").text
    n_images, broken = _loaded_images(browser)
    assert n_images >= min_images and not broken, (n_images, broken)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SHOTS / f"{name}.png"))
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors


def test_search_finds_a_task(browser, site_url):
    browser.get_log("browser")
    browser.get(site_url + "index.html")
    # Material's search runs in a web worker once its index has loaded; typing before that is ignored
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    WebDriverWait(browser, 20).until(lambda d: box.is_displayed())  # in the header at this window width
    box.click()
    links: list = []

    def found(d) -> bool:
        box.clear()
        box.send_keys("Bandit")
        try:  # the result list re-renders as the worker answers: read the links in one go, or try again
            links[:] = [a.get_attribute("href") for a in d.find_elements(By.CSS_SELECTOR, ".md-search-result__item a")]
        except StaleElementReferenceException:
            return False
        return any("tasks/Bandit.html" in (link or "") for link in links)

    WebDriverWait(browser, 20, poll_frequency=0.5).until(found)
    assert any("tasks/Bandit.html" in (link or "") for link in links), links
    assert browser.save_screenshot(str(SHOTS / "search.png"))
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
