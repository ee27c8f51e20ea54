"""A realistic test set: pages as real dossiers hold them, each with per-line ground truth.

The project's own sample scans (:mod:`dangan.samples.generate`) are upright 200/300-dpi office scans. Real
social-insurance dossiers also hold pages fed sideways or upside down, 100/150-dpi scans, small photocopies of
resident ID cards, red seals stamped over field values, grey-shaded table cells, show-through from the back of
thin paper, pen ticks over printed text, phone photos on a desk, and faded ink. :func:`generate_realistic`
draws ``per_class`` pages of each such class (:data:`CLASSES`), deterministically per ``seed``.

Fonts are real CJK fonts from Debian packages: Noto Sans CJK (forms), Noto Serif CJK / AR PL UKai when
installed (certificates, ID-card values) and WenQuanYi Zen Hei (ID-card labels). Every page carries its
``lines`` (reading order), the valid resident IDs it shows (``ids``) and the boxes of any seals (``seals``,
pixel boxes in the page's final orientation).
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dangan.samples import forms
from dangan.samples.persons import make_person
from dangan.samples.render import PAPER, Page, find_font

__all__ = ["CLASSES", "RealisticPage", "encode_png", "generate_realistic", "write_realistic"]

#: Degradation classes, in generation order. ``clean`` is the reference every other class is compared with.
CLASSES = (
    "clean", "rot90", "rot180", "rot270", "dpi150", "dpi100", "idcard_small", "idcard_large", "seal",
    "shaded", "showthrough", "pen", "photo", "faded",
)  # fmt: skip
_SERIF = (
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", ""),  # fonts-arphic-ukai: 楷体, handwriting-like
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", " SC"),
)
_WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
_ID_CARD_MM = (85.6, 54.0)
_PEN_BLUE = (40, 50, 140)


@dataclass
class RealisticPage:
    """One page of the realistic set: an RGB image (PIL channel order), its resolution metadata and the truth.

    ``dpi`` is what the file claims (``None``: no metadata, as for phone photos and cropped ID copies).
    """

    name: str
    klass: str
    image: np.ndarray
    dpi: int | None
    lines: list[str]
    ids: list[str]
    seals: list[list[int]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def truth(self) -> dict[str, Any]:
        """Ground truth as plain JSON (no pixels)."""
        h, w = self.image.shape[:2]
        return {"name": self.name, "class": self.klass, "dpi": self.dpi, "width": w, "height": h,
                "lines": self.lines, "ids": self.ids, "seals": self.seals, "params": self.params}  # fmt: skip


@lru_cache(maxsize=32)
def _font(path: str, px: int, suffix: str = " SC") -> ImageFont.FreeTypeFont:
    for index in range(8):
        try:
            face = ImageFont.truetype(path, px, index=index)
        except OSError:
            break
        if not suffix or (face.getname()[0] or "").endswith(suffix):
            return face
    return ImageFont.truetype(path, px)


def _serif(px: int) -> ImageFont.FreeTypeFont:
    for path, suffix in _SERIF:
        if Path(path).is_file():
            return _font(path, px, suffix)
    path, index = find_font()
    return ImageFont.truetype(path, px, index=index)


def _label_font(px: int) -> ImageFont.FreeTypeFont:
    if Path(_WQY).is_file():
        return _font(_WQY, px, "")
    path, index = find_font()
    return ImageFont.truetype(path, px, index=index)


class _SerifPage(Page):
    """A page set in a serif/kai face (certificates are typeset, not form-printed)."""

    def font(self, pt: float, bold: bool = False) -> ImageFont.FreeTypeFont:
        return _serif(round(pt * self.dpi / 72))


def _certificate(p: dict[str, Any], dpi: int) -> Page:
    """参保缴费证明: running text with the values inside the sentences (where seals land in practice)."""
    page = _SerifPage(dpi)
    page.centered(30, "社会保险参保缴费证明", 20)
    rows = [
        f"兹证明{p['name']}，性别{p['sex']}，公民身份号码{p['id_number']}，",
        f"自{p['insured_since'][:4]}年{int(p['insured_since'][5:]):d}月起在{p['employer_name']}",
        f"参加{p['insurance_type']}，累计缴费{p['months_paid']}个月，",
        f"目前参保状态为{p['insured_status']}，联系电话{p['phone']}。",
        "特此证明。",
    ]
    for i, row in enumerate(rows):
        page.line(50 + 11 * i, (22, row), pt=13)
    page.line(125, (105, p["agency"]), pt=13)
    page.line(136, (130, forms.cn_date(p["statement_date"])), pt=13)
    return page


def _form_page(p: dict[str, Any], dpi: int, index: int) -> Page:
    """A form page of the sample generator (registration, transfer form, statement) or a certificate."""
    kind = index % 4
    if kind == 0:
        return forms.registration(p, dpi, False).pages[0]
    if kind == 1:
        return forms.transfer_form(p, dpi, False).pages[0]
    if kind == 2:
        return forms.account_statement(p, dpi, False).pages[0]
    return _certificate(p, dpi)


def _ids(p: dict[str, Any], lines: list[str]) -> list[str]:
    return [p["id_number"]] if any(p["id_number"] in line for line in lines) else []


def _rgb(page: Page) -> np.ndarray:
    return np.asarray(page.image.convert("RGB")).copy()


def _noise(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noise = (rng.standard_normal(img.shape[:2], dtype=np.float32) * sigma).astype(np.int16)
    out = img.astype(np.int16)
    out += noise[..., None] if img.ndim == 3 else noise
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()


def _seal_over(page: Page, p: dict[str, Any], rng: random.Random) -> list[int]:
    """Stamp a red seal whose ring and star cross a field value (the name, phone or ID), as real stamps do."""
    targets = [b for b in page.boxes if b["text"] in (p["name"], p["phone"], p["sex"]) or p["name"] in b["text"]]
    box = rng.choice(targets or page.boxes)["bbox"]
    mm = 25.4 / page.dpi
    cx = min(185.0, max(25.0, (box[0] + box[2]) / 2 * mm + rng.uniform(-12, 12)))
    cy = min(270.0, max(25.0, (box[1] + box[3]) / 2 * mm + rng.uniform(8, 14) * rng.choice((-1, 1))))
    page.stamp(cx, cy, p["agency"])
    return list(page.stamps[-1]["bbox"])


def _shade_cells(img: np.ndarray, page: Page, rng: random.Random) -> int:
    """Grey fill (multiplied, so the text stays black) behind the label cells of ruled tables."""
    gray = img.min(axis=2)
    level = rng.uniform(0.78, 0.88)
    shaded = 0
    for b in page.boxes:
        x0, y0, x1, y1 = b["bbox"]
        probe_x, mid_y = max(0, x0 - 3), (y0 + y1) // 2
        if len(b["text"]) > 6 or probe_x <= 0:
            continue

        def run(xs: range | list[int], line: np.ndarray) -> int | None:
            for i in xs:
                if line[i] < 120:
                    return i
            return None

        left = run(range(probe_x, max(0, probe_x - page.px(6)), -1), gray[mid_y])
        right = run(range(min(x1 + 3, gray.shape[1] - 1), min(gray.shape[1], x1 + page.px(40))), gray[mid_y])
        col = gray[:, probe_x]
        top = run(range(mid_y, max(0, mid_y - page.px(12)), -1), col)
        bottom = run(range(mid_y, min(gray.shape[0], mid_y + page.px(12))), col)
        if None in (left, right, top, bottom):
            continue  # not inside a ruled cell
        assert left is not None and right is not None and top is not None and bottom is not None
        region = img[top + 2 : bottom - 1, left + 2 : right - 1]
        img[top + 2 : bottom - 1, left + 2 : right - 1] = (region.astype(np.float32) * level).astype(np.uint8)
        shaded += 1
    return shaded


def _show_through(img: np.ndarray, back: np.ndarray, strength: float) -> np.ndarray:
    """The back page's ink, mirrored, blurred and faint, multiplied into the front (thin paper on a scanner)."""
    back = cv2.resize(back[:, ::-1], (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
    ink = 1.0 - back.min(axis=2).astype(np.float32) / 255.0
    ink = cv2.GaussianBlur(ink, (0, 0), 1.2)
    return np.clip(img.astype(np.float32) * (1.0 - strength * ink)[..., None], 0, 255).astype(np.uint8)


def _pen_marks(img: np.ndarray, page: Page, rng: random.Random) -> int:
    """Ballpoint ticks, underlines and a circled value drawn over printed text."""
    marks = 0
    width = max(2, page.px(0.4))
    for b in rng.sample(page.boxes, min(5, len(page.boxes))):
        x0, y0, x1, y1 = b["bbox"]
        kind = rng.choice(("tick", "underline", "circle", "strike"))
        if kind == "tick":
            h = y1 - y0
            pts = [(x1 - h, y0 + h // 2), (x1 - h // 2, y1 + h // 4), (x1 + h, y0 - h // 2)]
            cv2.polylines(img, [np.array(pts, np.int32)], False, _PEN_BLUE, width, cv2.LINE_AA)
        elif kind == "underline":
            cv2.line(img, (x0, y1 + 2), (x1, y1 + rng.randint(-2, 4)), _PEN_BLUE, width, cv2.LINE_AA)
        elif kind == "strike":
            cv2.line(img, (x0, (y0 + y1) // 2), (x1, (y0 + y1) // 2 + rng.randint(-3, 3)), _PEN_BLUE, width)
        else:
            centre, axes = ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2 + 8, (y1 - y0) // 2 + 6)
            cv2.ellipse(img, centre, axes, rng.uniform(-5, 5), 0, 340, _PEN_BLUE, width, cv2.LINE_AA)
        marks += 1
    return marks


def _photo(img: np.ndarray, rng: random.Random, nrng: np.random.Generator) -> np.ndarray:
    """A phone photo: the page in perspective on a wooden desk, uneven light, soft focus, JPEG."""
    h, w = img.shape[:2]
    out_w, out_h = (1500, 2000) if h > w else (2000, 1500)
    desk = np.zeros((out_h, out_w, 3), np.float32)
    grain = np.sin(np.linspace(0, 40, out_w))[None, :] * 12 + nrng.normal(0, 6, (out_h, out_w))
    desk[...] = np.array([110, 80, 55], np.float32)  # RGB wood
    desk += grain[..., None]
    m = 0.08
    dst = np.array([
        [out_w * (m + rng.uniform(0, 0.05)), out_h * (m + rng.uniform(0, 0.04))],
        [out_w * (1 - m - rng.uniform(0, 0.05)), out_h * (m + rng.uniform(0, 0.06))],
        [out_w * (1 - m + rng.uniform(-0.03, 0.03)), out_h * (1 - m)],
        [out_w * (m + rng.uniform(-0.03, 0.03)), out_h * (1 - m - rng.uniform(0, 0.03))],
    ], np.float32)  # fmt: skip
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    warp = cv2.getPerspectiveTransform(src, dst)
    paper = cv2.warpPerspective(img, warp, (out_w, out_h), flags=cv2.INTER_AREA, borderValue=0)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), warp, (out_w, out_h), flags=cv2.INTER_LINEAR)
    out = paper.astype(np.float32) * mask[..., None] + desk * (1 - mask[..., None])
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    light = 1.0 - 0.25 * ((xx / out_w - rng.uniform(0.2, 0.8)) ** 2 + (yy / out_h - 0.3) ** 2)
    out = cv2.GaussianBlur(out * light[..., None], (0, 0), 0.9)
    return _jpeg(_noise(np.clip(out, 0, 255).astype(np.uint8), nrng, 3.0), 82)


def _id_card(p: dict[str, Any], back: bool, width: int, nrng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A photocopy of one side of a resident ID card, about ``width`` px wide (card plus a thin margin)."""
    s = 8.0  # px per mm while drawing; the copy is resampled to ``width`` afterwards
    cw, ch = round(_ID_CARD_MM[0] * s), round(_ID_CARD_MM[1] * s)
    ys = np.arange(ch)[:, None]
    guilloche = 228 + 8 * np.sin(np.arange(cw)[None, :] / 9.0 + 3 * np.sin(ys / 23.0))  # copied security print
    card = Image.fromarray(np.clip(guilloche, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle([1, 1, cw - 2, ch - 2], radius=round(3 * s), outline=120, width=2)
    label, value = _label_font(round(2.6 * s)), _serif(round(3.1 * s))
    lines: list[str]
    if back:
        draw.ellipse([6 * s, 5 * s, 20 * s, 19 * s], outline=60, width=3)
        big = _label_font(round(5.0 * s))
        draw.text((28 * s, 7 * s), "中华人民共和国", font=big, fill=25)
        draw.text((30 * s, 17 * s), "居民身份证", font=_label_font(round(6.2 * s)), fill=25)
        issuer = p["agency"].replace("社会保险事业管理中心", "公安局")
        issued = int(p["insured_since"][:4]) + 3
        day = f"{p['birth_date'][5:7]}.{p['birth_date'][8:]}"
        valid = f"{issued}.{day}-{issued + 20}.{day}"
        draw.text((18 * s, 38 * s), "签发机关", font=label, fill=40)
        draw.text((32 * s, 37.5 * s), issuer, font=value, fill=10)
        draw.text((18 * s, 45 * s), "有效期限", font=label, fill=40)
        draw.text((32 * s, 44.5 * s), valid, font=value, fill=10)
        lines = ["中华人民共和国", "居民身份证", f"签发机关 {issuer}", f"有效期限 {valid}"]
    else:
        birth = p["birth_date"]
        nation = p["ethnicity"].removesuffix("族")
        born = f"{birth[:4]}年{int(birth[5:7])}月{int(birth[8:])}日"
        address = p["address"]
        split = 11
        rows = [("姓名", p["name"], 6), (None, None, 12.5), ("出生", born, 19), ("住址", address[:split], 25.5)]
        for lab, val, y in rows:
            if lab:
                draw.text((5 * s, y * s), lab, font=label, fill=40)
                draw.text((14 * s, (y - 0.3) * s), val, font=value, fill=10)
        draw.text((5 * s, 12.5 * s), "性别", font=label, fill=40)
        draw.text((14 * s, 12.2 * s), p["sex"], font=value, fill=10)
        draw.text((24 * s, 12.5 * s), "民族", font=label, fill=40)
        draw.text((33 * s, 12.2 * s), nation, font=value, fill=10)
        draw.text((14 * s, 30.5 * s), address[split:], font=value, fill=10)
        draw.text((5 * s, 44 * s), "公民身份号码", font=label, fill=40)
        draw.text((27 * s, 43.5 * s), p["id_number"], font=_label_font(round(3.4 * s)), fill=10)
        draw.rounded_rectangle([58 * s, 7 * s, 81 * s, 37 * s], radius=6, fill=175)  # the photo copies grey
        draw.ellipse([64 * s, 11 * s, 75 * s, 24 * s], fill=110)
        draw.pieslice([60 * s, 23 * s, 79 * s, 45 * s], 180, 360, fill=110)
        lines = [f"姓名 {p['name']}", f"性别 {p['sex']} 民族 {nation}", f"出生 {born}",
                 f"住址 {address[:split]}", address[split:], f"公民身份号码 {p['id_number']}"]  # fmt: skip
    margin = round(3 * s)
    sheet = np.full((ch + 2 * margin, cw + 2 * margin), 246, np.uint8)
    sheet[margin : margin + ch, margin : margin + cw] = np.asarray(card)
    # Photocopy: harder contrast, toner speckles, a couple of toner streaks along the paper path.
    copy = np.clip((sheet.astype(np.float32) - 40) * 1.18, 0, 255)
    speck = nrng.random(copy.shape) < 0.002
    copy[speck] = nrng.uniform(40, 120, int(speck.sum()))
    for x in nrng.integers(0, copy.shape[1], 2):
        copy[:, x : x + 2] *= nrng.uniform(0.55, 0.75)
    f = width / copy.shape[1]
    out = cv2.resize(copy.astype(np.uint8), None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    out = _noise(np.repeat(out[..., None], 3, axis=2), nrng, 4.0)
    return _jpeg(out, 85), lines


def _build(klass: str, index: int, p: dict[str, Any], back_p: dict[str, Any], seed: int) -> RealisticPage:
    rng = random.Random(f"{seed}:{klass}:{index}")
    nrng = np.random.default_rng([seed, CLASSES.index(klass), index])
    name = f"{klass}_{index:02d}"
    params: dict[str, Any] = {}
    seals: list[list[int]] = []
    if klass in ("idcard_small", "idcard_large"):
        back = index % 2 == 1
        width = rng.randint(290, 310) if klass == "idcard_small" else rng.randint(580, 620)
        img, lines = _id_card(p, back, width, nrng)
        params = {"side": "back" if back else "front", "width": width}
        return RealisticPage(name, klass, img, None, lines, _ids(p, lines), params=params)
    dpi = {"dpi150": 150, "dpi100": 100, "photo": 150}.get(klass, 200)
    kind = index + CLASSES.index(klass)
    if klass == "shaded":
        kind = index % 2  # the ruled label/value tables (registration, transfer form)
    elif klass == "seal":
        kind = (0, 1, 3)[index % 3]  # pages with the person's name in them
    page = _form_page(p, dpi, kind)
    if klass == "seal":
        seals.append(_seal_over(page, p, rng))
    img = _rgb(page)
    lines = list(page.lines)
    out_dpi: int | None = dpi
    if klass.startswith("rot"):
        turns = int(klass[3:]) // 90  # page turned clockwise by 90·turns degrees (np.rot90 turns anticlockwise)
        img = np.ascontiguousarray(np.rot90(img, -turns))
        params["rotated_cw"] = 90 * turns
    elif klass in ("dpi150", "dpi100"):
        img = _jpeg(_noise(cv2.GaussianBlur(img, (0, 0), 0.5), nrng, 3.0), 80)
    elif klass == "shaded":
        params["shaded_cells"] = _shade_cells(img, page, rng)
    elif klass == "showthrough":
        reverse = _rgb(_form_page(back_p, dpi, index + 1))
        strength = rng.uniform(0.12, 0.22)
        img = _show_through(img, reverse, strength)
        params["strength"] = round(strength, 3)
    elif klass == "pen":
        params["marks"] = _pen_marks(img, page, rng)
    elif klass == "photo":
        img = _photo(img, rng, nrng)
        out_dpi = None
    elif klass == "faded":
        keep = rng.uniform(0.3, 0.45)  # share of the ink density left
        paper = np.array(PAPER, np.float32)
        img = np.clip(paper - (paper - img.astype(np.float32)) * keep, 0, 255).astype(np.uint8)
        img = _noise(img, nrng, 2.0)
        params["ink_left"] = round(keep, 3)
    if klass in ("seal", "shaded", "showthrough", "pen", "faded", "clean"):
        img = _noise(img, nrng, 2.0)
    return RealisticPage(name, klass, img, out_dpi, lines, _ids(p, lines), seals, params)


def generate_realistic(
    seed: int = 0, per_class: int = 3, classes: tuple[str, ...] | list[str] | None = None
) -> list[RealisticPage]:
    """``per_class`` pages of each class in ``classes`` (default: all of :data:`CLASSES`); deterministic per seed."""
    chosen = tuple(classes) if classes else CLASSES
    unknown = set(chosen) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown realistic page classes: {sorted(unknown)}")
    person_rng = random.Random(f"{seed}:persons")
    people = [make_person(person_rng, i, "330106", long_statement=False) for i in range(max(2, per_class + 1))]
    pages = []
    for klass in chosen:
        for i in range(per_class):
            pages.append(_build(klass, i, people[i], people[(i + 1) % len(people)], seed))
    return pages


def encode_png(page: RealisticPage) -> bytes:
    """The page as a PNG file, with its dpi in the header when it has one (what a scanner or phone writes)."""
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"compress_level": 1}
    if page.dpi:
        kwargs["dpi"] = (page.dpi, page.dpi)
    Image.fromarray(page.image).save(buf, "PNG", **kwargs)
    return buf.getvalue()


def write_realistic(out_dir: Path, pages: list[RealisticPage]) -> list[Path]:
    """Write each page as ``<name>.png`` plus ``<name>.json`` (its ground truth) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for page in pages:
        path = out_dir / f"{page.name}.png"
        path.write_bytes(encode_png(page))
        (out_dir / f"{page.name}.json").write_text(json.dumps(page.truth(), ensure_ascii=False, indent=1), "utf-8")
        paths.append(path)
    return paths
