"""The web page in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
selenium): upload a file with the progress bar, search with the plan, ask, open a citation and
see the cited span highlighted, draw the map. A screenshot is saved in the test's tmp folder.
Skipped, saying why, where Chromium or its driver is not installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.embed.fake import HashEmbedder
from ponder.llm.fake import ScriptedGenerator
from ponder.server.app import create_app
from ponder.server.live import LiveServer
from ponder.server.state import ServerConfig

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=420,900")

webdriver = pytest.importorskip("selenium.webdriver")
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip(f"headless browser test needs {CHROMIUM} and {DRIVER} "
                "(apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("srv-browser")
    gen = ScriptedGenerator({"owl": "Owls hunt at night and fly silently [1]."},
                            default="I cannot tell.")
    app = create_app(ServerConfig(home=str(home), model=gen, embedder=HashEmbedder(dim=64)))
    with LiveServer(app) as srv:
        httpx.post(srv.url + "/v1/collections", json={"name": "birds"}).raise_for_status()
        yield srv


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    drv = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


def test_upload_search_ask_cite_map(server: LiveServer, browser: Any, tmp_path: Path) -> None:
    doc = tmp_path / "owls.md"
    doc.write_text("# Owls\n\nOwls hunt at night and fly silently through the woods.\n\n"
                   "# Herons\n\nHerons wade in shallow water to catch fish.\n", encoding="utf-8")
    b = browser
    wait = WebDriverWait(b, 20)
    b.get(server.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "collection").get_attribute("value") == "birds")

    b.find_element(By.ID, "files").send_keys(str(doc))
    b.find_element(By.ID, "upload-btn").click()
    wait.until(EC.text_to_be_present_in_element((By.ID, "job-status"), "done"))
    assert b.find_element(By.ID, "upload-progress").get_attribute("value") == "1"
    assert "1 added" in b.find_element(By.ID, "job-status").text

    b.find_element(By.ID, "query").send_keys("owls hunt at night")
    b.find_element(By.ID, "search-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results li"))
    first = b.find_elements(By.CSS_SELECTOR, "#results li")[0].text
    assert "Owls hunt at night" in first
    assert b.find_element(By.ID, "plan").is_displayed()

    b.find_element(By.ID, "question").send_keys("When do owls hunt?")
    b.find_element(By.ID, "ask-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#citations button.cite"))
    assert "Owls hunt at night" in b.find_element(By.ID, "answer").text
    b.find_elements(By.CSS_SELECTOR, "#citations button.cite")[0].click()
    mark = wait.until(EC.visibility_of_element_located((By.ID, "cited-span")))
    assert "Owls hunt at night" in mark.text
    assert mark.tag_name == "mark"
    b.save_screenshot(str(tmp_path / "citation.png"))
    assert (tmp_path / "citation.png").stat().st_size > 1000
    b.find_element(By.ID, "viewer-close").click()

    b.find_element(By.ID, "map-btn").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#map circle"))
    assert "of 2 chunks" in b.find_element(By.ID, "map-info").text
    assert not b.find_element(By.ID, "error").is_displayed()
