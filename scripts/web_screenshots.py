"""Regenerate the README's screenshots of the web app (``docs/img/web/*.png``).

Builds a BASICS store in a temporary folder with the four demo users, simulates a small finished
cohort with :func:`ssctrial.simulate.simulate_trial` (so the dashboard and the subject list have
content), adds two subjects in progress and a few data queries, serves the app on a free localhost
port and photographs the pages in headless Chromium (Debian's package, driven by Playwright with
its executable path; no browser download). Images are 1200 px wide, palette-quantised PNGs under
300 KB each.

Run from the repository root::

    python scripts/web_screenshots.py [--out docs/img/web] [--n 12] [--seed 11]

The browser is ``$SSCTRIAL_CHROMIUM``, else ``chromium`` on the PATH, else ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.web._server

from PIL import Image  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from tests.web._server import running_server  # noqa: E402

from ssctrial.simulate import simulate_trial  # noqa: E402
from ssctrial.store import Store, init_store  # noqa: E402

USERS = {
    "ivan": ("investigator", "ivan-password-1"),
    "mona": ("monitor", "mona-password-1"),
    "stan": ("statistician", "stan-password-1"),
}
WIDTH = 1200
MAX_BYTES = 300_000


def build_store(url: str, *, n: int, seed: int) -> Store:
    """Build a BASICS store: users, ``n`` simulated randomised patients, two live subjects, queries."""
    store = init_store(url, "basics", user="alice")
    store.set_password("alice", "alice-password-1", user="alice")
    for name, (role, password) in USERS.items():
        store.add_user(name, role, user="alice", password=password)
    simulate_trial(store.design, n=n, seed=seed, store=store, rnaseq=False, user="alice")
    for sid, sex, subtype in (("BASICS-101", "F", "diffuse"), ("BASICS-102", "M", "limited")):
        store.enroll_subject(
            sid,
            user="ivan",
            consent_date="2026-11-16",
            sex=sex,
            strata={"SUBTYPE": subtype, "DURATION": "early"},
            site="HUASHAN",
            birth_date="1979-06-01",
            height_cm=165.0,
        )
    obs = store.observations()
    mrss = obs[(obs["instrument"] == "MRSS") & (obs["visit"] == "W12")].sort_values("subject")
    first = mrss.iloc[0]
    q1 = store.open_query(
        first["subject"],
        user="mona",
        text="Face grade differs from the source notes; please check",
        visit="W12",
        instrument="MRSS",
        item="face",
    )
    store.answer_query(q1, user="ivan", answer="Source notes say 1; corrected with reason")
    last = mrss.iloc[-1]
    store.open_query(
        last["subject"],
        user="mona",
        text="Forearm right grade 3 at week 12 after 1 at week 8: please confirm",
        visit="W12",
        instrument="MRSS",
        item="forearm_right",
    )
    store.open_query(
        last["subject"], user="mona", text="Visit date of week 24 is outside its window: please confirm"
    )
    return store


def save_png(page, path: Path, *, full_page: bool, clip_height: int | None = None) -> None:
    """Screenshot ``page`` into ``path`` as a palette PNG (under MAX_BYTES)."""
    raw = path.with_suffix(".raw.png")
    if clip_height is not None:
        height = min(clip_height, int(page.evaluate("document.documentElement.scrollHeight")))
        page.screenshot(
            path=str(raw), full_page=True, clip={"x": 0, "y": 0, "width": WIDTH, "height": height}
        )
    else:
        page.screenshot(path=str(raw), full_page=full_page)
    with Image.open(raw) as img:
        small = img.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        small.save(path, optimize=True)
    raw.unlink()
    size = path.stat().st_size
    if size > MAX_BYTES:
        msg = f"{path.name}: {size} bytes, over the {MAX_BYTES} allowed for the README"
        raise RuntimeError(msg)
    print(f"{path}  {size // 1024} KB")


def log_in(page, name: str, password: str) -> None:
    """Log in through the form."""
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator(".who")).to_contain_text(name)


def showcase_subject(store: Store) -> str:
    """Return a simulated subject with the most visits, preferring one with adverse events."""
    visits = store.read_table("visit").groupby("subject_id").size()
    with_ae = set(store.read_table("adverse_event")["subject_id"])
    ranked = sorted(visits.index, key=lambda s: (-int(visits[s]), s not in with_ae, s))
    return str(ranked[0])


def photograph(url: str, out: Path, chromium: str, *, showcase: str) -> None:
    """Visit the pages as the users would and save the screenshots into ``out``."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        ctx = browser.new_context(viewport={"width": WIDTH, "height": 860}, base_url=url, locale="en-GB")
        ctx.set_default_timeout(15_000)
        page = ctx.new_page()
        page.goto("/login")
        page.fill("input[name=username]", "ivan")
        save_png(page, out / "login.png", full_page=False, clip_height=420)
        log_in(page, "ivan", USERS["ivan"][1])
        save_png(page, out / "dashboard.png", full_page=True, clip_height=1300)
        page.goto("/subjects")
        save_png(page, out / "subjects.png", full_page=True, clip_height=1100)
        page.goto("/subjects/new")
        page.fill("input[name=subject_id]", "BASICS-103")
        page.fill("input[name=consent_date]", "2026-11-24")
        page.select_option("select[name=sex]", "F")
        page.select_option("select[name=stratum_SUBTYPE]", "diffuse")
        page.select_option("select[name=stratum_DURATION]", "early")
        boxes = page.locator("#eligibility input[type=checkbox]")
        for i in range(boxes.count() - 1):
            boxes.nth(i).check()
        save_png(page, out / "enrol.png", full_page=True, clip_height=1100)
        page.goto("/subjects/BASICS-101/randomize")
        page.check("input[name=confirm]")
        save_png(page, out / "randomise-before.png", full_page=False, clip_height=420)
        page.click("form[action$='/randomize'] button[type=submit]")
        expect(page.locator("#allocation")).to_be_visible()
        save_png(page, out / "randomise-after.png", full_page=False, clip_height=460)
        # the mRSS form: body map, live total and an inline error while typing
        page.goto("/subjects/BASICS-101/visits/BL/MRSS")
        page.fill("input[name=visit_date]", "2026-11-25")
        grades = [2, 2, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0]
        codes = page.locator("#bodymap .site").evaluate_all("els => els.map(e => e.dataset.site)")
        for code, grade in zip(codes, grades, strict=True):
            page.fill(f"#item_{code}", str(grade))
        page.fill("#item_face", "")
        page.locator("#item_face").press_sequentially("5", delay=30)
        expect(page.locator("#msg_face")).to_contain_text("not allowed")
        save_png(page, out / "mrss-form-error.png", full_page=True, clip_height=900)
        page.fill("#item_face", "1")
        expect(page.locator("#msg_face")).to_have_text("")
        page.fill("#item_assessor_id", "WANG-01")
        page.click("#visit-form button[type=submit]")
        expect(page.locator("#scores")).to_be_visible()
        save_png(page, out / "mrss-form-saved.png", full_page=True, clip_height=900)
        page.goto("/audit?table=observation&record=BASICS-101%2FBL%2FMRSS%2Fface")
        save_png(page, out / "audit-value.png", full_page=True, clip_height=600)
        page.goto(f"/subjects/{showcase}")
        save_png(page, out / "subject.png", full_page=True, clip_height=1300)
        page.goto("/subjects/BASICS-101/ae/new")
        page.fill("input[name=term]", "Herpes zoster")
        page.fill("input[name=body_system]", "Infections and infestations")
        page.fill("input[name=start_date]", "2026-11-20")
        page.select_option("select[name=grade]", "2")
        page.select_option("select[name=serious]", "no")
        page.select_option("select[name=relatedness]", "probable")
        save_png(page, out / "adverse-event.png", full_page=True, clip_height=800)
        ctx.close()

        ctx = browser.new_context(viewport={"width": WIDTH, "height": 860}, base_url=url, locale="en-GB")
        page = ctx.new_page()
        log_in(page, "mona", USERS["mona"][1])
        page.goto("/queries")
        save_png(page, out / "queries.png", full_page=True, clip_height=900)
        ctx.close()

        ctx = browser.new_context(viewport={"width": WIDTH, "height": 860}, base_url=url, locale="en-GB")
        page = ctx.new_page()
        log_in(page, "stan", USERS["stan"][1])
        page.goto("/lock")
        page.fill("main form input[name=reason]", "final analysis of the week-24 primary endpoint")
        page.click("main form button[type=submit]")
        expect(page.locator("#lock-state")).to_contain_text("Locked since")
        save_png(page, out / "lock.png", full_page=False, clip_height=420)
        ctx.close()
        browser.close()


def main(argv: list[str] | None = None) -> None:
    """Build the demo store, serve it and write the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "web")
    parser.add_argument("--n", type=int, default=12, help="simulated randomised patients")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    chromium = os.environ.get("SSCTRIAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(f"sqlite:///{Path(tmp) / 'demo.db'}", n=args.n, seed=args.seed)
        try:
            with running_server(store) as url:
                photograph(url, args.out, chromium, showcase=showcase_subject(store))
        finally:
            store.close()
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
