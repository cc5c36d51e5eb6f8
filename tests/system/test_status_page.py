"""The status page at "/" of the admin listener (issue 17), in a real
browser: headless Chromium driven by Selenium (Debian chromium,
chromium-driver, python3-selenium), against a running gslbd with the what-if
test database (tests/data/geoip/whatif.json) and one member probed at a test
health server.

- the assets: built into the binary, Content-Type, a strict
  Content-Security-Policy, ETag and 304, the same access rules as /status;
- the page loads with no console error;
- the map has a coloured shape for each country of the database's coverage,
  in the colour of the region /what-if gives it;
- a what-if taking a region down marks exactly the countries that
  `gslbd --what-if` (the CLI) says move;
- a member failing shows on the page within 3 s;
- drain/undrain buttons: absent without the token, working with it (after a
  confirmation);
- a node of a cluster (one etcd): its nodes and each member's verdict;
- a screenshot for the README (web/screenshot.png) when GSLB_SCREENSHOT is set.

One gslbd and one browser for the module; only 127.0.0.1, free ports.
"""

import json
import os
import shutil
import time

import pytest

import gslbtest
from gslbtest import DATADIR, build_mmdb, run_gslbd
from test_whatif import REGIONS, ZONE

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - checked below
    webdriver = None

TOKEN = "status-page-token-0123456789"
SERVICE = "www.geo.test"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browser_missing():
    if webdriver is None:
        return "python3-selenium is not installed"
    if not CHROMIUM or not os.access(CHROMEDRIVER, os.X_OK):
        return "chromium or chromium-driver is not installed"
    return None


def config(workdir, db, backend):
    regions = ",\n  ".join('{ name = "%s"; lat = %s; lon = %s; }' % r for r in REGIONS)
    pools = []
    for i, (name, _, _) in enumerate(REGIONS):
        members = ['"198.18.0.%d"' % (i + 1)]
        check = ""
        if name == "eu-east":
            members = ['{ address = "198.18.0.%d"; target = "%s"; }' % (i + 1, backend.url())]
            check = 'check = "web"; '
        pools.append('{ region = "%s"; %smembers = ( %s ); }' % (name, check, ", ".join(members)))
    extra = "\n".join([
        'state_dir = "%s";' % workdir,
        'geoip = { database = "%s"; };' % db,
        'admin_token_file = "%s";' % os.path.join(workdir, "token"),
        'checks = ( { name = "web"; type = "http"; interval = 0.5; timeout = 0.3; '
        "rise = 1; fall = 1; } );",
        "regions = (\n  %s\n);" % regions,
        'services = ( { name = "%s"; ttl = 30; default = [ "us-east" ];\n'
        "  pools = (\n    %s\n  ); } );" % (SERVICE, ",\n    ".join(pools)),
    ])
    return gslbtest.gslbd_config(workdir, zones=[ZONE], nsid=None, identity=None, version=None,
                                 workers=1, admin="127.0.0.1:0", extra=extra)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("status")
    db = build_mmdb(os.path.join(DATADIR, "geoip", "whatif.json"), d / "whatif.mmdb")
    (d / "token").write_text(TOKEN + "\n")
    backend = gslbtest.HttpBackend()
    srv = gslbtest.Gslbd(str(d), config_text=config(str(d), db, backend))
    srv.start()
    yield {"dir": d, "srv": srv, "backend": backend}
    gslbtest.stop_checked(srv)
    backend.close()


@pytest.fixture(scope="module")
def browser(env):
    why = browser_missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why + " (the CI runs the browser tests)", pytrace=False)
        pytest.skip(why)
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
              "--disable-dev-shm-usage", "--no-proxy-server"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = ChromeService(executable_path=CHROMEDRIVER)
    drv = webdriver.Chrome(options=opts, service=service)
    yield drv
    drv.quit()


def base(env):
    host, port = env["srv"].admin_address()
    return "http://%s:%d" % (host, port)


def open_page(drv, env):
    drv.get("about:blank")
    drv.get_log("browser")  # what an earlier page logged (its server stopped)
    drv.get(base(env) + "/")
    WebDriverWait(drv, 10).until(
        lambda d: d.execute_script("return document.body.dataset.mapReady || ''"))


def severe(drv):
    return [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def fills(drv):
    """country -> [fill colour, moved] of every coloured shape of the map."""
    return drv.execute_script(
        "const o = {}; for (const p of document.querySelectorAll('#map path.covered'))"
        " o[p.dataset.cc] = [getComputedStyle(p).fill, p.classList.contains('moved')];"
        " return o;")


def coverage(env):
    """country -> region (largest share) from /what-if, as the CLI computes it."""
    j = gslbtest.admin_json(env["srv"], "/what-if")
    pic = next(s for s in j["services"] if s["service"] == SERVICE)
    best = {}
    for row in pic["regions"]:
        for c in row["before"]["countries"]:
            w = c["share4"] * 1e6 + c["share6"]
            if c["country"] not in best or w > best[c["country"]][1]:
                best[c["country"]] = (row["region"], w)
    return {cc: r for cc, (r, _) in best.items()}


def test_assets_served_with_headers(env):
    srv = env["srv"]
    st, h, body = gslbtest.admin_request(srv, "GET", "/")
    assert st == 200 and h["content-type"].startswith("text/html"), (st, h)
    assert '<script src="/app.js"' in body
    csp = h["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert h["x-content-type-options"] == "nosniff"
    st2, h2, _ = gslbtest.admin_request(srv, "GET", "/", headers={"If-None-Match": h["etag"]})
    assert st2 == 304, st2
    total = len(body.encode())
    for path, ctype in (("/app.js", "text/javascript"), ("/app.css", "text/css"),
                        ("/countries.json", "application/json")):
        st, h, body = gslbtest.admin_request(srv, "GET", path)
        assert st == 200 and h["content-type"].startswith(ctype), (path, st, h)
        assert h["etag"] and h["cache-control"] == "no-cache", h
        total += len(body.encode())
    assert total < 1024 * 1024, total
    st, _, _ = gslbtest.admin_request(srv, "POST", "/")
    assert st == 405


def test_page_needs_token_when_required(tmp_path):
    """admin_require_token covers the page as it covers /status."""
    tf = tmp_path / "token"
    tf.write_text(TOKEN + "\n")
    srv = gslbtest.start_gslbd(tmp_path, admin="127.0.0.1:0", extra=(
        'admin_token_file = "%s";\nadmin_require_token = true;\n' % tf))
    try:
        st, h, _ = gslbtest.admin_request(srv, "GET", "/")
        assert st == 401, st
        st, h, _ = gslbtest.admin_request(srv, "GET", "/app.js",
                                          headers={"Authorization": "Bearer " + TOKEN})
        assert st == 200, st
    finally:
        gslbtest.stop_checked(srv)


def test_loads_without_console_errors_and_colours_the_map(env, browser):
    open_page(browser, env)
    assert severe(browser) == []
    fcp = browser.execute_script(
        "const e = performance.getEntriesByName('first-contentful-paint');"
        " return e.length ? e[0].startTime : null;")
    assert fcp is not None and fcp < 1000, fcp  # first paint under 1 s, locally
    want = coverage(env)
    assert len(want) > 5, want
    regions = [r[0] for r in REGIONS]
    palette = browser.execute_script("return COLORS")
    got = fills(browser)
    shapes = set(browser.execute_script("return Object.keys(state.shapes)"))
    for cc, region in want.items():
        if cc == "??":
            continue  # networks with no country: not on the map
        assert cc in got, (cc, sorted(got))
        r, g, b = (int(palette[regions.index(region)][i:i + 2], 16) for i in (1, 3, 5))
        assert got[cc][0] == "rgb(%d, %d, %d)" % (r, g, b), (cc, region, got[cc])
    assert set(got) == set(want) - {"??"}
    assert len(shapes) >= 240, len(shapes)


def test_whatif_region_down_marks_the_cli_countries(env, browser):
    open_page(browser, env)
    before = fills(browser)
    r = run_gslbd(["-c", env["srv"].config_path, "--what-if", "drain eu-central", "--json"])
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    pic = next(s for s in cli["services"] if s["service"] == SERVICE)
    moved = {c["country"] for m in pic["moves"] for c in m["countries"]}
    assert moved, pic["moves"]
    Select(browser.find_element(By.ID, "whatif")).select_by_value("region:eu-central")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.body.dataset.whatif") == "region:eu-central")
    after = fills(browser)
    assert {cc for cc, (_, m) in after.items() if m} == moved
    changed = {cc for cc in after if after[cc][0] != before[cc][0]}
    assert changed and changed <= moved, (changed, moved)
    Select(browser.find_element(By.ID, "whatif")).select_by_value("")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return document.body.dataset.whatif") == "")
    assert severe(browser) == []


def member_state(drv):
    return drv.execute_script(
        "const r = document.querySelector('tr.member[data-member=\"198.18.0.4\"] td:nth-child(2)');"
        " return r ? r.textContent : '';")


def test_member_failure_shows_within_3s(env, browser):
    open_page(browser, env)
    WebDriverWait(browser, 10).until(lambda d: member_state(d) == "up")
    # the latest probe's latency, in /status and on the page
    st = gslbtest.admin_json(env["srv"], "/status")
    pool = next(p for p in st["services"][0]["pools"] if p["region"] == "eu-east")
    assert 0 <= pool["members"][0]["latency"] < 0.3, pool
    unchecked = next(p for p in st["services"][0]["pools"] if p["region"] == "us-east")
    assert unchecked["members"][0]["latency"] is None, unchecked
    WebDriverWait(browser, 5).until(lambda d: d.execute_script(
        "const r = document.querySelector('tr.member[data-member=\"198.18.0.4\"] td.latency');"
        " return r && r.textContent.endsWith(' ms');"))
    env["backend"].fail()
    try:
        t0 = time.monotonic()
        WebDriverWait(browser, 3, poll_frequency=0.1).until(lambda d: member_state(d) == "down")
        took = time.monotonic() - t0
        assert took < 3.0, took
        timeline = browser.find_element(By.ID, "timeline").text
        assert "198.18.0.4" in timeline and "down" in timeline, timeline
        # the server's list of transitions (no webhook receiver configured)
        events = gslbtest.admin_json(env["srv"], "/status")["events"]
        name = "member:%s/eu-east/198.18.0.4" % SERVICE
        assert any(e["what"] == "member" and e["name"] == name and e["to"] == "down"
                   for e in events), events
        assert any(e["what"] == "pool" and e["name"] == "pool:%s/eu-east" % SERVICE
                   for e in events), events
    finally:
        env["backend"].ok()
    WebDriverWait(browser, 10).until(lambda d: member_state(d) == "up")


def region_admin(env, name):
    st = gslbtest.admin_json(env["srv"], "/status")
    return next(r["admin"] for r in st["regions"] if r["name"] == name)


def click(drv, css):
    """Click in the page (the tables are redrawn when the state changes:
    a found element may be replaced before a WebDriver click reaches it);
    from a timer, so that the confirmation does not block the script."""
    assert drv.execute_script("return !!document.querySelector(arguments[0])", css), css
    drv.execute_script("setTimeout(() => document.querySelector(arguments[0]).click(), 0)", css)
    WebDriverWait(drv, 5).until(lambda d: _alert(d))


def _alert(drv):
    try:
        return drv.switch_to.alert
    except Exception:
        return False


def test_controls_only_with_token(env, browser):
    open_page(browser, env)
    browser.execute_script("sessionStorage.clear()")
    open_page(browser, env)
    time.sleep(1.2)  # one more poll
    assert browser.find_elements(By.CSS_SELECTOR, "button.control") == []
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "token-set").click()
    sel = 'button.control[data-action="%s"][data-target="region:sa-east"]'
    WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, sel % "drain"))
    # dismissed: nothing happens
    click(browser, sel % "drain")
    browser.switch_to.alert.dismiss()
    time.sleep(0.3)
    assert region_admin(env, "sa-east") == "none"
    click(browser, sel % "drain")
    browser.switch_to.alert.accept()
    gslbtest.wait_for("sa-east drained", lambda: region_admin(env, "sa-east") == "drain", timeout=5)
    WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, sel % "undrain"))
    click(browser, sel % "undrain")
    browser.switch_to.alert.accept()
    gslbtest.wait_for("sa-east undrained", lambda: region_admin(env, "sa-east") == "none",
                      timeout=5)
    assert severe(browser) == []
    browser.find_element(By.ID, "token-clear").click()
    WebDriverWait(browser, 5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "button.control") == [])


def test_wrong_token_is_said_and_stays(env, browser):
    """A drain with a wrong token is refused as such (not as cross-site),
    and the message stays on the page through the next polls."""
    open_page(browser, env)
    browser.execute_script("sessionStorage.clear()")
    open_page(browser, env)
    browser.find_element(By.ID, "token").send_keys("not-the-token-0123456789")
    browser.find_element(By.ID, "token-set").click()
    sel = 'button.control[data-action="drain"][data-target="region:sa-east"]'
    WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, sel))
    click(browser, sel)
    browser.switch_to.alert.accept()
    err = browser.find_element(By.ID, "error")
    WebDriverWait(browser, 5).until(lambda d: "wrong bearer token" in err.text)
    time.sleep(2.5)  # two polls
    assert "wrong bearer token" in err.text and err.is_displayed(), err.text
    assert region_admin(env, "sa-east") == "none"
    browser.find_element(By.ID, "token-clear").click()


def test_explain_box(env, browser):
    open_page(browser, env)
    browser.find_element(By.ID, "explain-address").send_keys("20.0.0.1")
    browser.find_element(By.ID, "explain-go").click()
    WebDriverWait(browser, 5).until(
        lambda d: "chosen:" in d.find_element(By.ID, "explain-out").text)
    text = browser.find_element(By.ID, "explain-out").text
    assert "chosen: us-east" in text, text
    assert severe(browser) == []


def demo_config(workdir):
    """etc/gslb.conf (the README's demo) with free ports and a state_dir
    of the test's own."""
    with open(os.path.join(gslbtest.SRCDIR, "etc", "gslb.conf")) as f:
        text = f.read()
    for old, new in (('directory = "..";', 'directory = "%s";' % gslbtest.SRCDIR),
                     ('state_dir = "var";', 'state_dir = "%s";' % workdir),
                     (":5353", ":0"), (":8080", ":0"), (":8053", ":0")):
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_demo_page_and_screenshot(tmp_path, browser):
    """The demo's page loads with no console error and its map is coloured;
    its screenshot is docs/status-page.png in the README (written there
    when GSLB_SCREENSHOT names the file)."""
    srv = gslbtest.Gslbd(str(tmp_path), config_text=demo_config(str(tmp_path)))
    srv.start()
    try:
        open_page(browser, {"srv": srv})
        WebDriverWait(browser, 5).until(lambda d: len(fills(d)) > 3)
        assert severe(browser) == []
        Select(browser.find_element(By.ID, "whatif")).select_by_value("region:eu-east")
        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("return document.body.dataset.whatif") == "region:eu-east")
        assert any(m for _, m in fills(browser).values())
        browser.execute_script("document.getElementById('hover').textContent = "
                               "'Hover a country: the decision for a client there.'")
        out = os.environ.get("GSLB_SCREENSHOT") or str(tmp_path / "page.png")
        assert browser.save_screenshot(out)
        assert os.path.getsize(out) > 10000
    finally:
        browser.get("about:blank")
        gslbtest.stop_checked(srv)


def test_cluster_node_verdicts(tmp_path, browser):
    """A node of a cluster (one etcd, one node): the page lists the nodes
    and each member's verdict with the nodes that probe it."""
    gslbtest.require_etcd()
    from test_cluster_nodes import node_config
    etcd = gslbtest.EtcdCluster(str(tmp_path / "etcd"), 1).start()
    backend = gslbtest.HttpBackend()
    srv = None
    try:
        srv = gslbtest.Gslbd(str(tmp_path), config_text=node_config(
            str(tmp_path), "n1", etcd.endpoints(), backend, quorum=1))
        srv.start()
        open_page(browser, {"srv": srv})
        WebDriverWait(browser, 10).until(
            lambda d: "n1" in d.find_element(By.ID, "cluster-members").text)
        assert "no GeoIP database" in browser.find_element(By.ID, "whatif-note").text
        assert not browser.find_element(By.ID, "cluster-section").get_attribute("hidden")
        nodes = browser.find_element(By.ID, "cluster-nodes").text
        assert "n1 yes live" in nodes, nodes
        members = browser.find_element(By.ID, "cluster-members").text
        assert "up" in members and "n1" in members, members
        assert severe(browser) == []
    finally:
        browser.get("about:blank")
        if srv:
            gslbtest.stop_checked(srv)
        backend.close()
        etcd.stop()


def test_hover_explains_a_client_of_the_country(env, browser):
    open_page(browser, env)
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "cc-DE")).perform()
    WebDriverWait(browser, 5).until(
        lambda d: "chosen:" in d.find_element(By.ID, "hover").text)
    text = browser.find_element(By.ID, "hover").text
    assert text.startswith("DE") and "country DE" not in text, text
    assert "location: DE" in text and "chosen: eu-central" in text, text
    assert severe(browser) == []
