#!/usr/bin/env python3
"""A photo-heavy corpus for benches/responsive.sh: SITES sites x ARTICLES
articles x IMAGES photos each, every photo distinct bytes.

Photos are camera-like JPEGs (gradients, noise, blur at quality 90, so they
do not compress to nothing): BASE distinct pictures made with Pillow, and
every copy made distinct by a JPEG comment segment, so each is a new image
to gen's cache (keyed by the bytes) and to Hugo's (keyed by the file), at
the cost of encoding the same pixels again.

With --hugo, writes hugo/<site>/ as well: one Hugo project per site with
the same page bundles and a layout that resizes each photo to the same
widths in WebP (q80) plus a JPEG at 1200 (q82), as gen does by default.
"""
import argparse
import io
import os
import random

from PIL import Image, ImageFilter

WIDTHS = [240, 480, 800, 1200, 1600]


def base_photo(i, w, h):
    rng = random.Random(i)
    c1 = tuple(rng.randrange(256) for _ in range(3))
    c2 = tuple(rng.randrange(256) for _ in range(3))
    grad = Image.linear_gradient("L").resize((w, h)).rotate(rng.randrange(360), expand=False)
    a = Image.new("RGB", (w, h), c1)
    b = Image.new("RGB", (w, h), c2)
    img = Image.composite(a, b, grad)
    noise = Image.effect_noise((w, h), 40).convert("RGB")
    img = Image.blend(img, noise, 0.25).filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def distinct(jpeg, tag):
    """The same picture with a comment segment: new bytes, same pixels."""
    body = tag.encode()
    com = b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body
    return jpeg[:2] + com + jpeg[2:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sites", type=int, default=2)
    ap.add_argument("--articles", type=int, default=250)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--width", type=int, default=2400)
    ap.add_argument("--height", type=int, default=1600)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--hugo", action="store_true")
    a = ap.parse_args()
    bases = [base_photo(i, a.width, a.height) for i in range(a.base)]
    cfg = []
    n = 0
    for s in range(a.sites):
        name = f"site{s:02d}"
        cfg += ["[[sites]]", f'name = "{name}"', f'title = "{name}"', f'base_url = "https://{name}.example.com/"', ""]
        for i in range(a.articles):
            rel = os.path.join("news", f"a{i:05d}")
            md = ["---", f"title: Article {i}", f"date: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "---", "", "Text.", ""]
            photos = []
            for k in range(a.images):
                photos.append((f"img{k}.jpg", distinct(bases[n % a.base], f"{name}/{i}/{k}")))
                md += [f"![Photo {k}](img{k}.jpg)", ""]
                n += 1
            roots = [os.path.join(a.out, "content", name, rel)]
            if a.hugo:
                roots.append(os.path.join(a.out, "hugo", name, "content", rel))
            for root in roots:
                os.makedirs(root, exist_ok=True)
                with open(os.path.join(root, "index.md"), "w") as f:
                    f.write("\n".join(md))
                for fname, data in photos:
                    with open(os.path.join(root, fname), "wb") as f:
                        f.write(data)
        if a.hugo:
            write_hugo_site(os.path.join(a.out, "hugo", name), name)
    with open(os.path.join(a.out, "sites.toml"), "w") as f:
        f.write("\n".join(cfg))
    print(f"{n} photos of {a.width}x{a.height}, {sum(len(b) for b in bases) // len(bases) // 1024} KiB each on average")


def write_hugo_site(root, name):
    os.makedirs(os.path.join(root, "layouts", "_default"), exist_ok=True)
    with open(os.path.join(root, "hugo.toml"), "w") as f:
        f.write(f'baseURL = "https://{name}.example.com/"\ntitle = "{name}"\n'
                'disableKinds = ["taxonomy", "term", "RSS", "sitemap"]\n'
                '[imaging]\nresampleFilter = "Lanczos"\n')
    widths = " ".join(str(w) for w in WIDTHS)
    single = (
        '<!doctype html><title>{{ .Title }}</title>{{ .Content }}'
        '{{ range .Resources.ByType "image" }}{{ $img := . }}<picture><source type="image/webp" srcset="'
        '{{ range slice ' + widths + ' }}{{ if lt . $img.Width }}'
        '{{ with $img.Resize (printf "%dx webp q80" .) }}{{ .RelPermalink }} {{ .Width }}w,{{ end }}{{ end }}{{ end }}">'
        '<img src="{{ ($img.Resize "1200x jpg q82").RelPermalink }}"></picture>{{ end }}'
    )
    with open(os.path.join(root, "layouts", "_default", "single.html"), "w") as f:
        f.write(single)
    with open(os.path.join(root, "layouts", "_default", "list.html"), "w") as f:
        f.write('<!doctype html><title>{{ .Title }}</title>{{ range .Pages }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}')


if __name__ == "__main__":
    main()
