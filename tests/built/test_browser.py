"""The built book in a real browser: headless Chromium (Debian's chromium + chromium-driver).

For every page: it loads without console errors, every image loads, the math is
typeset (no raw $$ or \\( left), no equation, code block, output or table is wider than the
text column at 1280 px, every internal link resolves, and a chapter's launch
button points at Colab for that chapter's notebook.  A screenshot of each page goes to
_build/screenshots/ for a person to look at.  Served from 127.0.0.1; nothing else is reached.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from pathlib import Path

import pytest
from loopback import serve  # tests/built/loopback.py

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PAGES = (
    ["book/intro.html"]
    + [f"notebooks/{p.stem}.html" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    + ["book/glance.html", "book/glossary.html", "book/seminar.html", "book/reproducibility.html"]
    + ["book/bibliography.html"]
)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`; .ci/run "
    "installs them)",
)


@pytest.fixture(scope="module")
def base_url():
    with serve(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def wait_until(driver, condition: str, seconds: float):
    """Poll a JavaScript expression every 100 ms until it is truthy; its value, or None after ``seconds``."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; const started = Date.now();"
        f"(function poll() {{ const value = {condition}; if (value) return done(value);"
        f" if (Date.now() - started > {seconds * 1000}) return done(null); setTimeout(poll, 100); }})();"
    )


def wait_for_mathjax(driver) -> None:
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (window.MathJax && MathJax.startup && MathJax.startup.promise) "
        "{ MathJax.startup.promise.then(() => done(true), () => done(false)); }"
        "else { done(null); }"
    )


@pytest.mark.parametrize("page", PAGES)
def test_page_in_browser(browser, base_url, page):
    assert (HTML / page).exists(), f"{page} was not built"
    browser.get(base_url + page)
    wait_for_mathjax(browser)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / (page.replace("/", "__").replace(".html", ".png"))))

    severe = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"console errors on {page}: {severe[:3]}"

    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert not broken, f"images that did not load on {page}: {broken[:3]}"

    no_alt = browser.execute_script(
        "return Array.from(document.querySelectorAll('main img')).filter(i => !(i.getAttribute('alt') || "
        "'').trim() || i.getAttribute('alt').startsWith('../_images')).map(i => i.src)"
    )
    assert not no_alt, f"figures without alt text on {page}: {no_alt[:3]}"
    if page.startswith("notebooks/"):
        figures = browser.execute_script("return document.querySelectorAll('main figure').length")
        captions = browser.execute_script("return document.querySelectorAll('main figure figcaption').length")
        assert figures >= 1 and captions == figures, f"{page}: {figures} figures, {captions} captions"

    text = browser.execute_script("return (document.querySelector('main') || document.body).innerText")
    assert "$$" not in text and "\\(" not in text and "\\[" not in text, f"raw math left on {page}"
    if browser.execute_script("return document.querySelectorAll('.math').length") > 0:
        assert browser.execute_script("return document.querySelectorAll('mjx-container').length") > 0, (
            f"math on {page} was not typeset"
        )

    overflowing = browser.execute_script(
        "const wide = (e, within) => e.getBoundingClientRect().width > within.getBoundingClientRect().width + 2"
        "  || e.scrollWidth > e.clientWidth + 2;"
        "return [].concat("
        "  Array.from(document.querySelectorAll('main mjx-container[display=\"true\"]'))"
        "    .filter(e => wide(e, e.parentElement)).map(e => 'equation: ' + e.textContent.slice(0, 40)),"
        "  Array.from(document.querySelectorAll('main pre')).filter(e => e.scrollWidth > e.clientWidth + 2)"
        "    .map(e => 'code or output: ' + e.textContent.slice(0, 40)),"
        "  Array.from(document.querySelectorAll('main table'))"
        "    .filter(e => e.parentElement.scrollWidth > e.parentElement.clientWidth + 2)"
        "    .map(e => 'table: ' + e.textContent.slice(0, 40)))"
    )
    assert not overflowing, f"{page} at 1280 px: {len(overflowing)} elements wider than the column: {overflowing[:3]}"

    hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    for href in hrefs:
        if href.startswith(base_url):
            path = urllib.parse.unquote(urllib.parse.urlparse(href).path).lstrip("/")
            target = HTML / path
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page} links to missing {path}"

    if page.startswith("notebooks/"):
        name = Path(page).stem
        colab = [h for h in hrefs if "colab.research.google.com" in h]
        assert any(h.endswith(f"/notebooks/colab/{name}.ipynb") for h in colab), (
            f"no Colab launch button opening the plain copy of {name}: {colab}"
        )


def test_offline_from_disk(browser):
    """A reader opening the book from disk, offline, sees typeset math and every figure."""
    for page in ("notebooks/01_bn_ln_equations.html", "book/intro.html"):
        browser.get((HTML / page).as_uri())
        wait_for_mathjax(browser)
        assert browser.execute_script("return document.querySelectorAll('mjx-container').length") > 0 or "intro" in page
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert not broken, f"images that did not load from disk on {page}: {broken[:3]}"
        text = browser.execute_script("return document.querySelector('main').innerText")
        assert "$$" not in text and "\\(" not in text


SLIDES = ROOT / "_build" / "slides"
DECKS = [f"{p.stem}.slides.html" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]


@pytest.fixture(scope="module")
def slides_url():
    with serve(SLIDES) as url:
        yield url


@pytest.mark.parametrize("deck", DECKS)
def test_slide_deck_presents_offline(browser, slides_url, deck):
    """A teacher opens the deck in a room without internet: reveal.js starts, the math is typeset,
    every figure loads, the arrow key moves to the next slide, and nothing is fetched from elsewhere."""
    assert (SLIDES / deck).exists(), f"{deck} was not built (make slides)"
    browser.get_log("browser")  # drop messages from earlier pages
    browser.get(slides_url + deck)
    ready = wait_until(browser, "document.querySelector('.reveal.ready') !== null", 30)
    assert ready, f"reveal.js did not start in {deck}"
    typeset = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (!window.MathJax || !MathJax.Hub) return done(null);"
        "MathJax.Hub.Queue(() => done(document.querySelectorAll('script[type^=\"math/tex\"]').length));"
    )
    assert typeset is not None, f"MathJax did not load in {deck}"
    if deck.startswith("01_"):
        assert typeset > 20, f"the equations chapter's math was not typeset ({typeset} formulas)"
    prose = browser.execute_script(
        "const copy = document.querySelector('.reveal .slides').cloneNode(true);"
        "copy.querySelectorAll('pre, code, script, .MathJax_Preview').forEach(e => e.remove()); return "
        "copy.textContent;"
    )
    assert not re.search(r"\$\$|\$[^$\s][^$\n]*\$|\\\(", prose), f"raw TeX left in the prose of {deck}"
    slides = browser.execute_script("return document.querySelectorAll('.reveal .slides section').length")
    assert slides >= 5, f"{deck}: only {slides} slides"
    from selenium.webdriver.common.keys import Keys

    browser.find_element("css selector", "body").send_keys(Keys.ARROW_RIGHT)
    moved = wait_until(browser, "location.hash !== '#/' && location.hash", 5)
    assert moved, f"the right arrow key did not move to the next slide in {deck}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"slides__{deck.replace('.html', '.png')}"))

    severe = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, f"console errors in {deck}: {severe[:3]}"
    elsewhere = browser.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith(arguments[0]) "
        "&& !n.startsWith('data:'))",
        slides_url,
    )
    assert not elsewhere, f"{deck} fetched from outside the build: {elsewhere[:3]}"
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => "
        "i.src.slice(0, 80))"
    )
    assert not broken, f"images that did not load in {deck}: {broken[:3]}"


# Each slide of a deck (all of them, or arguments[0]: a list of [h, v]), visited through reveal.js, in
# slide units (960×700, before reveal.js scales it to the screen): [h, v, content height, content
# width, first words, elements reaching outside the slide, elements that clip their content (a child
# with overflow hidden or scrolling: a slide's own size does not show these), the smallest text in px
# as projected (math by its outer size), words shown, images, speaker notes' length].
SLIDE_PROBE = """
const done = arguments[arguments.length - 1];
const R = require('lib/reveal.js/dist/reveal.js');
let targets = arguments.length > 1 ? arguments[0] : null;
if (!targets) {
  targets = [];
  document.querySelectorAll('.reveal .slides > section').forEach((h, i) => {
    const n = h.querySelectorAll(':scope > section').length || 1;
    for (let j = 0; j < n; j++) targets.push([i, j]);
  });
}
const out = [];
function visit(k) {
  if (k >= targets.length) return done(out);
  const [i, j] = targets[k];
  R.slide(i, j);
  setTimeout(() => {
    const s = document.querySelector('.reveal .slides section.present:not(.stack)');
    const scale = R.getScale(), box = s.getBoundingClientRect();
    const outside = [], clipped = [];
    let smallest = 1e9, words = 0;
    s.querySelectorAll('*').forEach(e => {
      if (e.closest('aside.notes, script, .MathJax_Preview')) return;
      const style = getComputedStyle(e), r = e.getBoundingClientRect();
      if (r.width && (r.right > box.left + 960 * scale + 2 || r.bottom > box.top + 700 * scale + 2))
        outside.push(e.tagName);
      const hidesX = style.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 2;
      const hidesY = style.overflowY !== 'visible' && e.scrollHeight > e.clientHeight + 2;
      if ((hidesX || hidesY) && !e.closest('.MathJax'))  // a formula's own inner boxes clip by design
        clipped.push(`${e.tagName} ${e.scrollWidth}x${e.scrollHeight} in ${e.clientWidth}x${e.clientHeight}`);
      const math = e.matches('.MathJax, .MathJax_CHTML');
      const inMath = !math && e.closest('.MathJax, .MathJax_CHTML, .MathJax_Display');
      const text = Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
      if (r.width && !inMath && (math || text)) smallest = Math.min(smallest, parseFloat(style.fontSize) * scale);
      if (text && !inMath) words += Array.from(e.childNodes).filter(n => n.nodeType === 3)
        .map(n => n.textContent.trim().split(/\\s+/).filter(Boolean).length).reduce((a, b) => a + b, 0);
    });
    const notes = s.querySelector('aside.notes');
    out.push([i, j, s.scrollHeight, s.scrollWidth, (s.innerText || '').slice(0, 60).replace(/\\s+/g, ' '),
      outside.length, clipped.slice(0, 3), Math.round(smallest * 10) / 10, words, s.querySelectorAll('img').length,
      notes ? notes.textContent.trim().length : 0]);
    visit(k + 1);
  }, 150);
}
visit(0);
"""


def projected_at_1280_by_800(browser):
    """The page as a projector shows it: a 1280×800 screen (a headless window of that size has a smaller
    viewport, which reveal.js scales differently)."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    )


@pytest.fixture(scope="module")
def deck_slides(browser, slides_url):
    """Every deck's slides measured by :data:`SLIDE_PROBE` at 1280×800, once for the tests below."""
    measured = {}
    projected_at_1280_by_800(browser)
    try:
        for deck in DECKS:
            browser.get(slides_url + deck)
            assert wait_until(browser, "document.querySelector('.reveal.ready') !== null", 30), f"{deck} did not start"
            browser.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "if (!window.MathJax || !MathJax.Hub) return done(null); MathJax.Hub.Queue(() => done(1));"
            )
            browser.set_script_timeout(300)
            measured[deck] = browser.execute_async_script(SLIDE_PROBE)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return measured


@pytest.mark.parametrize("deck", DECKS)
def test_no_slide_overflows_at_1280_by_800(deck_slides, deck):
    """A projected deck never scrolls or cuts: every slide's content fits reveal.js's 960×700 slide, no
    element reaches outside it, and no element clips its own content (an equation clipped
    inside its own box left the slide's size unchanged, so a test of the slide's size alone missed it)."""
    sizes = deck_slides[deck]
    assert len(sizes) >= 5
    over = [
        f"slide {h}/{v} ({height}×{width} px, {outside} elements outside, clipped: {clipped}): {words}"
        for h, v, height, width, words, outside, clipped, *_ in sizes
        if height > 700 or width > 960 or outside or clipped
    ]
    assert not over, f"slides of {deck} that scroll or cut their content at 1280×800: {over}"


PROJECTED_TEXT_PX = 19.5  # text of about 20 px at 1280×800, readable when projected


@pytest.mark.parametrize("deck", DECKS)
def test_slide_text_projects_at_about_20_px(deck_slides, deck):
    small = [
        f"slide {h}/{v} ({px} px): {words}"
        for h, v, _, _, words, _, _, px, *_ in deck_slides[deck]
        if px < PROJECTED_TEXT_PX
    ]
    assert not small, f"{deck}: text smaller than {PROJECTED_TEXT_PX} px at 1280×800 on {small}"


@pytest.mark.parametrize("deck", DECKS)
def test_every_content_slide_has_speaker_notes_and_shows_enough(deck_slides, deck):
    """Speaker notes on every slide that shows something, and no slide that shows a few words alone."""
    slides = deck_slides[deck]
    silent = [f"{h}/{v}: {words}" for h, v, _, _, words, _, _, _, shown, images, notes in slides if shown and not notes]
    assert not silent, f"{deck}: slides without speaker notes: {silent}"
    near_empty = [
        f"{h}/{v}: {words}" for h, v, _, _, words, _, _, _, shown, images, _ in slides[1:] if shown < 6 and not images
    ]
    assert not near_empty, f"{deck}: slides that show almost nothing: {near_empty}"


@pytest.mark.parametrize("deck", [deck for deck in DECKS if not deck.startswith("01_")])
def test_the_slide_after_the_title_gives_the_answers(deck_slides, deck):
    title, after = deck_slides[deck][0], deck_slides[deck][1]
    assert (title[0], after[0]) == (0, 1) and after[4].strip().upper().startswith("THE ANSWERS"), after[4]


def test_the_overflow_probe_sees_content_cut_inside_a_slide(browser, slides_url):
    """The probe that the overflow test reads, on a deck with a slide spoilt on purpose: a wide formula in
    a box that hides its overflow (the slide keeps its size), and a block pushed below the slide."""
    deck = DECKS[0]
    projected_at_1280_by_800(browser)
    try:
        browser.get(slides_url + deck)
        assert wait_until(browser, "document.querySelector('.reveal.ready') !== null", 30)
        browser.execute_script(
            "const s = document.querySelectorAll('.reveal .slides > section')[1];"
            "const slide = s.querySelector(':scope > section') || s;"
            "slide.insertAdjacentHTML('beforeend', '<div style=\"overflow:hidden;width:300px\">"
            '<div style="width:2000px">a formula wider than its box</div></div>'
            '<div style="position:relative;top:900px">pushed below the slide</div>\');'
        )
        (found,) = browser.execute_async_script(SLIDE_PROBE, [[1, 0]])
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    outside, clipped = found[5], found[6]
    assert clipped and clipped[0].startswith("DIV 2000x"), clipped
    assert outside >= 1


@pytest.mark.parametrize("deck", DECKS)
def test_the_right_arrow_visits_every_slide(browser, slides_url, deck):
    """Issue 36: → skipped 132 of 182 vertical sub-slides (reveal.js's default moves between sections).
    The decks navigate linearly: pressing → from the first slide reaches every slide once."""
    from selenium.webdriver.common.keys import Keys

    browser.get(slides_url + deck)
    assert wait_until(browser, "document.querySelector('.reveal.ready') !== null", 30), f"{deck} did not start"
    reveal = "require('lib/reveal.js/dist/reveal.js')"  # loaded through require.js: no global Reveal
    total = browser.execute_script(f"return {reveal}.getTotalSlides()")
    body = browser.find_element("css selector", "body")
    seen = {(0, 0)}
    for _ in range(total + 1):
        body.send_keys(Keys.ARROW_RIGHT)
        seen.add(tuple(browser.execute_script(f"const i = {reveal}.getIndices(); return [i.h, i.v || 0]")))
    assert len(seen) == total, f"{deck}: → reached {len(seen)} of {total} slides"
