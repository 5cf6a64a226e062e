"""Check the built site in headless Chromium, offline.

    python tools/docs/check.py [--docs _docs] [--chromium /usr/bin/chromium] [--chromedriver /usr/bin/chromedriver]

Serves `_docs/` on 127.0.0.1 (an ephemeral port), loads every page in Debian's Chromium through
Debian's ChromeDriver (Selenium), and fails (exit 1) on any of:
  * a failed request, an HTTP error, or a request that leaves 127.0.0.1 (the site must work offline);
  * a console error or an uncaught JavaScript exception;
  * a broken internal link or anchor, or a broken image;
  * maths that KaTeX did not render (a `span.math` without `.katex`, a `.katex-error`, or TeX left in the text);
  * a missing page: the home page and every notebook of `nbs/sidebar.yml`, in that order in the sidebar;
  * a missing API reference entry: every public name in a module's `__all__` needs its `show_doc`
    heading at the anchor nbdev's `_modidx.py` links to;
  * search that finds nothing for a word of the LoRA page.
`source` links to GitHub are not fetched: their file must exist in this checkout and have that line.
Screenshots of the home page and the LoRA page go to `_docs/screenshots/`.
"""
import argparse, ast, base64, functools, http.server, json, os, re, shutil, sys, tempfile, threading, time
from pathlib import Path
from urllib.parse import urlsplit, unquote

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage', '--window-size=1280,1000', '--hide-scrollbars']

# Collected in the page after load: links, ids, images, maths, sidebar.
PAGE_JS = r"""
const skip = n => n.closest('pre, code, script, style, .katex, .sourceCode, textarea');
const raw = [];
const tw = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\n]{0,200}[\\^_{][^$\n]{0,200}\$/;
for (let n = tw.nextNode(); n; n = tw.nextNode())
  if (n.parentElement && !skip(n.parentElement) && tex.test(n.nodeValue)) raw.push(n.nodeValue.trim().slice(0, 120));
return {
  links: [...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.href]),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  images: [...document.querySelectorAll('img')].map(i => [i.getAttribute('src').slice(0, 80), i.complete && i.naturalWidth > 0]),
  math: document.querySelectorAll('span.math').length,
  math_bad: [...document.querySelectorAll('span.math')].filter(s => !s.querySelector('.katex')).map(s => s.textContent.slice(0, 80)),
  katex_err: [...document.querySelectorAll('.katex-error')].map(s => s.getAttribute('title') || s.textContent),
  raw_tex: raw,
  sidebar: [...document.querySelectorAll('#quarto-sidebar a[href]')].map(a => a.getAttribute('href')),
  title: document.title,
  katex_loaded: !!window.katex,
};
"""


class Handler(http.server.SimpleHTTPRequestHandler):
    errors = []
    def log_message(self, fmt, *args): pass
    def log_request(self, code='-', size='-'):
        if str(code).isdigit() and int(code) >= 400: Handler.errors.append(f'HTTP {code} {self.path}')


def serve(docs: Path):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(docs)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'


def expected_pages(docs: Path) -> list[str]:
    "The output file of each sidebar entry, from the front matter nbdev wrote into `_proc/`."
    import yaml
    sb = yaml.safe_load((ROOT/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    out = []
    for src in sb:
        src = src if isinstance(src, str) else src.get('href', '')
        of = None
        p = ROOT/'_proc'/src
        if p.suffix == '.ipynb' and p.exists():
            cells = json.loads(p.read_text())['cells']
            m = re.search(r'^output-file:\s*(\S+)', ''.join(cells[0]['source']), re.M) if cells else None
            of = m.group(1) if m else None
        out.append(of or str(Path(src).with_suffix('.html')))
    return out


def api_anchors() -> dict[str, str]:
    "`module.name` -> `page.html#anchor` for each public name in each module's `__all__`, from `_modidx.py`."
    from nbdev.config import get_config
    cfg = get_config()
    lib = cfg.lib_path
    ns = {}; exec((lib/'_modidx.py').read_text(), ns)
    syms = ns['d']['syms']
    res = {}
    for mod, entries in syms.items():
        f = lib/(mod.split('.', 1)[1].replace('.', '/') + '.py')
        tree = ast.parse(f.read_text())
        names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                      and any(getattr(t, 'id', '') == '__all__' for t in n.targets)), [])
        # nbdev's `add_show_docs` documents the functions and classes an export cell defines (not constants)
        defs = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for nm in names:
            if nm.startswith('_') or nm not in defs: continue
            link = entries.get(f'{mod}.{nm}')
            res[f'{mod}.{nm}'] = link[0] if link else None
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--docs', default=str(ROOT/'_docs'))
    ap.add_argument('--chromium', default=os.environ.get('CHROMIUM', shutil.which('chromium') or '/usr/bin/chromium'))
    ap.add_argument('--chromedriver', default=os.environ.get('CHROMEDRIVER', shutil.which('chromedriver') or '/usr/bin/chromedriver'))
    ap.add_argument('--timeout', type=float, default=30)
    a = ap.parse_args()
    docs = Path(a.docs).resolve()
    if not (docs/'index.html').exists(): sys.exit(f'[check] {docs}/index.html is missing: build the site first (python tools/docs/build.py)')
    for exe in (a.chromium, a.chromedriver):
        if not Path(exe).exists(): sys.exit(f'[check] {exe} not found: apt-get install chromium chromium-driver')

    os.environ.setdefault('SE_OFFLINE', 'true')  # never let Selenium Manager look for a driver online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    t0 = time.time()
    problems: list[str] = []
    def fail(page, msg): problems.append(f'{page}: {msg}')

    srv, base = serve(docs)
    profile = tempfile.mkdtemp(prefix='docs-check-chromium-')
    opts = webdriver.ChromeOptions()
    opts.binary_location = a.chromium
    for f in CHROMIUM_FLAGS + [f'--user-data-dir={profile}']: opts.add_argument(f)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL', 'performance': 'ALL'})
    driver = webdriver.Chrome(service=Service(a.chromedriver), options=opts)
    driver.set_page_load_timeout(a.timeout)
    driver.get('about:blank'); driver.get_log('performance'); driver.get_log('browser')  # drop the start page's events
    try:
        pages = sorted(str(p.relative_to(docs)) for p in docs.rglob('*.html'))
        pages.remove('index.html'); pages.insert(0, 'index.html')
        info, ids = {}, {}
        external, implicit = set(), set()  # implicit: the browser's own /favicon.ico request (the site sets no icon)
        for page in pages:
            driver.get(base + page)
            WebDriverWait(driver, a.timeout).until(lambda d: d.execute_script('return document.readyState') == 'complete')
            time.sleep(0.3)  # deferred scripts (KaTeX auto-render, search index) settle
            r = driver.execute_script(PAGE_JS)
            info[page], ids[page] = r, set(r['ids'])
            # network: failures, HTTP errors, anything not on 127.0.0.1
            for entry in driver.get_log('performance'):
                msg = json.loads(entry['message'])['message']
                m, p = msg.get('method'), msg.get('params', {})
                if m == 'Network.requestWillBeSent':
                    u = p['request']['url']
                    if not u.startswith((base, 'data:', 'blob:', 'about:', 'chrome:', 'chrome-extension:', 'devtools:')):
                        fail(page, f'request leaves localhost: {u}')
                    if u == base + 'favicon.ico': implicit.add(p['requestId'])
                elif m == 'Network.loadingFailed' and not p.get('canceled'):
                    fail(page, f"failed request: {p.get('errorText')} ({p.get('type')})")
                elif m == 'Network.responseReceived' and p['response']['status'] >= 400 and p['requestId'] not in implicit:
                    fail(page, f"HTTP {p['response']['status']}: {p['response']['url']}")
                elif m == 'Runtime.exceptionThrown':
                    fail(page, f"JS exception: {p['exceptionDetails'].get('exception', {}).get('description') or p['exceptionDetails'].get('text')}")
            for entry in driver.get_log('browser'):
                if entry['level'] == 'SEVERE' and not entry['message'].startswith(base + 'favicon.ico'):
                    fail(page, f"console error: {entry['message']}")
            # maths
            if r['math_bad']: fail(page, f"{len(r['math_bad'])} of {r['math']} maths not rendered by KaTeX, e.g. {r['math_bad'][0]!r}")
            for e in r['katex_err']: fail(page, f'KaTeX error: {e}')
            for t in r['raw_tex']: fail(page, f'unrendered TeX in the text: {t!r}')
            for src, ok in r['images']:
                if not ok: fail(page, f'broken image {src}')

        # links and anchors, now that every page's ids are known
        for page, r in info.items():
            for raw, absu in r['links']:
                if absu.startswith(base):
                    s = urlsplit(absu)
                    target = unquote(s.path[1:]) or 'index.html'
                    if target.endswith('/'): target += 'index.html'
                    if not (docs/target).is_file(): fail(page, f'broken link {raw}'); continue
                    if s.fragment and target in ids and unquote(s.fragment) not in ids[target]:
                        fail(page, f'broken anchor {raw}')
                elif absu.startswith(('http://', 'https://')):
                    m = re.match(r'https://github\.com/[^/]+/[^/]+/blob/[^/]+/([^#]+)(?:#L(\d+))?', absu)
                    if m:  # a `source` link: the file and line must exist here
                        f = ROOT/unquote(m.group(1))
                        if not f.is_file(): fail(page, f'source link to a missing file: {absu}')
                        elif m.group(2) and int(m.group(2)) > len(f.read_text().splitlines()): fail(page, f'source link past the end of the file: {absu}')
                    else: external.add(absu)
                elif absu.startswith(('mailto:', 'javascript:')): pass
                else: fail(page, f'odd link {raw}')

        # the pages, in the sidebar's order
        want = ['index.html'] + [p for p in expected_pages(docs) if p != 'index.html']
        for p in want:
            if p not in info: fail('site', f'page missing: {p}')
        side = [h.split('#')[0] for h in info['index.html']['sidebar']]
        side = list(dict.fromkeys(h if h not in ('', './') else 'index.html' for h in side))
        if [p for p in side if p in want] != want: fail('index.html', f'sidebar order {side}, expected {want}')

        # the API reference
        api = api_anchors()
        for sym, link in api.items():
            if not link: fail('api', f'{sym} is exported but not in _modidx.py (run nbdev-export)'); continue
            pg, _, anchor = link.partition('#')
            if pg not in ids: fail('api', f'{sym}: page {pg} missing'); continue
            if anchor not in ids[pg]: fail(pg, f'no API entry for {sym} (expected #{anchor})')

        # search, from the home page
        driver.get(base + 'index.html')
        WebDriverWait(driver, a.timeout).until(lambda d: d.execute_script('return document.readyState') == 'complete')
        box = next((b for b in driver.find_elements(By.CSS_SELECTOR, '.smalldocs-search input, #quarto-search input') if b.is_displayed()), None)
        if box is None: fail('index.html', 'no visible search box')
        else:
            box.send_keys('adapters')
            try:
                WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, '.search-result'))
                hits = [e.get_attribute('href') for e in driver.find_elements(By.CSS_SELECTOR, '.search-result')]
                if not any('lora.html' in h for h in hits): fail('search', f'"adapters" does not find the LoRA page: {hits}')
            except Exception: fail('search', 'no results for "adapters"')
            box.send_keys(Keys.ESCAPE)
        for entry in driver.get_log('browser'):
            if entry['level'] == 'SEVERE' and not entry['message'].startswith(base + 'favicon.ico'):
                fail('search', f"console error: {entry['message']}")

        # screenshots
        shots = docs/'screenshots'; shots.mkdir(exist_ok=True)
        lora = next((p for p in want if 'lora' in p), 'lora.html')
        for name, page in (('home', 'index.html'), ('lora', lora)):
            driver.get(base + page); time.sleep(0.5)
            driver.save_screenshot(str(shots/f'{name}.png'))
            size = driver.execute_cdp_cmd('Page.getLayoutMetrics', {})['cssContentSize']
            png = driver.execute_cdp_cmd('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True,
                'clip': {'x': 0, 'y': 0, 'width': size['width'], 'height': min(size['height'], 16000), 'scale': 1}})['data']
            (shots/f'{name}-full.png').write_bytes(base64.b64decode(png))
    finally:
        driver.quit(); srv.shutdown(); shutil.rmtree(profile, ignore_errors=True)

    problems += [f'server: {e}' for e in Handler.errors if e != 'HTTP 404 /favicon.ico' and not any(e.split()[-1] in p for p in problems)]
    n_math = sum(r['math'] for r in info.values()); n_img = sum(len(r['images']) for r in info.values())
    print(f'[check] {len(info)} pages, {sum(len(r["links"]) for r in info.values())} links, {n_img} images, '
          f'{n_math} maths, {len(api)} API entries, in {time.time()-t0:.1f}s; '
          f'{len(external)} external links not fetched (offline)')
    print(f'[check] screenshots: {shots.relative_to(ROOT) if shots.is_relative_to(ROOT) else shots}/home.png, lora.png (+ -full.png)')
    if problems:
        print(f'[check] FAILED, {len(problems)} problem(s):')
        for p in problems: print('  ' + p)
        sys.exit(1)
    print('[check] OK')


if __name__ == '__main__': main()
