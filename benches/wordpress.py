#!/usr/bin/env python3
"""A seeded WordPress export (WXR 1.2) and uploads folder, for benches/wordpress.sh.

    python3 benches/wordpress.py DIR --posts 20000 --image-kb 256

writes DIR/export.xml (Korean and English posts, Gutenberg and classic
bodies, captions, galleries, resized-copy references, old slugs, ?p= links
between posts) and DIR/uploads/sites/2/YYYY/MM/ with each post's two images
(an original and its -800x450 and -300x169 copies), so the import has the
shape of a real multisite blog.
"""
import argparse
import os
import random

KO = "한국은행 기준금리 동결 수출 반도체 경제 성장률 물가 서울 지하철 연장 주택 시장 조사 결과 발표".split()
EN = "the central bank held rates steady while exports of chips rose and the city extended its subway".split()


def words(rng, n):
    pool = KO if rng.random() < 0.6 else EN
    return " ".join(rng.choice(pool) for _ in range(n))


def png(salt, size):
    head = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + (1600).to_bytes(4, "big") + (900).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0, 0, 0, 0, 0])
    body = salt.encode()
    return head + body + b"\0" * max(0, size - len(head) - len(body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--image-kb", type=int, default=256)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    site = "https://blog.example.kr"
    up = f"{site}/wp-content/uploads/sites/2"
    os.makedirs(a.dir, exist_ok=True)
    out = open(os.path.join(a.dir, "export.xml"), "w", encoding="utf-8")
    out.write(
        '<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n<title>벤치 블로그</title><link>%s</link><language>ko-KR</language>'
        "<wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>%s</wp:base_blog_url>\n" % (site, site)
    )
    for i in range(5):
        out.write(f"<wp:author><wp:author_login>writer{i}</wp:author_login><wp:author_display_name><![CDATA[기자 {i}]]></wp:author_display_name></wp:author>\n")
    written = 0
    for n in range(a.posts):
        pid = 1000 + n
        year = 2015 + n * 10 // a.posts
        month = 1 + n % 12
        day = 1 + n % 28
        folder = os.path.join(a.dir, "uploads", "sites", "2", str(year), f"{month:02}")
        os.makedirs(folder, exist_ok=True)
        imgs = []
        for k in range(2):
            name = f"p{pid}-{k}"
            for suffix, size in (("", a.image_kb * 1024), ("-800x450", a.image_kb * 256), ("-300x169", a.image_kb * 64)):
                with open(os.path.join(folder, f"{name}{suffix}.png"), "wb") as f:
                    f.write(png(f"{pid}{k}{suffix}", size))
                    written += size
            imgs.append(f"{up}/{year}/{month:02}/{name}")
        slug = f"post-{pid}"
        link = f"{site}/{year}/{month:02}/{slug}/"
        other = 1000 + rng.randrange(a.posts)
        if n % 3 == 0:
            body = (
                f"{words(rng, 40)}\n{words(rng, 20)}\n\n[caption id=\"attachment_1\" width=\"800\"]<img src=\"{imgs[0]}-800x450.png\" alt=\"{words(rng, 3)}\" /> {words(rng, 5)}[/caption]\n\n"
                f"<a href=\"{site}/?p={other}\">{words(rng, 3)}</a> {words(rng, 30)}\n\n<img src=\"{imgs[1]}-300x169.png\" alt=\"x\" />"
            )
        else:
            body = (
                f"<!-- wp:paragraph -->\n<p>{words(rng, 60)} <a href=\"{site}/?p={other}\">{words(rng, 2)}</a></p>\n<!-- /wp:paragraph -->\n"
                f"<!-- wp:heading -->\n<h2>{words(rng, 4)}</h2>\n<!-- /wp:heading -->\n"
                f"<!-- wp:image -->\n<figure class=\"wp-block-image\"><a href=\"{imgs[0]}.png\"><img src=\"{imgs[0]}-800x450.png\" alt=\"{words(rng, 3)}\"/></a><figcaption>{words(rng, 4)}</figcaption></figure>\n<!-- /wp:image -->\n"
                f"<!-- wp:list -->\n<ul><li>{words(rng, 6)}</li><li>{words(rng, 6)}</li></ul>\n<!-- /wp:list -->\n"
                f"<!-- wp:paragraph -->\n<p>{words(rng, 80)}</p>\n<!-- /wp:paragraph -->\n"
                f"<!-- wp:image -->\n<figure class=\"wp-block-image\"><img src=\"{imgs[1]}-300x169.png\" alt=\"y\"/></figure>\n<!-- /wp:image -->"
            )
        date = f"{year}-{month:02}-{day:02} 09:{n % 60:02}:00"
        gmt = f"{year}-{month:02}-{day:02} 00:{n % 60:02}:00"
        out.write(
            f"<item><title><![CDATA[{words(rng, 6)}]]></title><link>{link}</link><dc:creator>writer{n % 5}</dc:creator>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded><excerpt:encoded><![CDATA[]]></excerpt:encoded>"
            f"<wp:post_id>{pid}</wp:post_id><wp:post_date>{date}</wp:post_date><wp:post_date_gmt>{gmt}</wp:post_date_gmt>"
            f"<wp:post_name>{slug}</wp:post_name><wp:status>publish</wp:status><wp:post_type>post</wp:post_type>"
            f"<category domain=\"category\" nicename=\"c{n % 8}\"><![CDATA[분류 {n % 8}]]></category>"
            f"<category domain=\"post_tag\" nicename=\"t{n % 40}\"><![CDATA[태그 {n % 40}]]></category>"
            f"<wp:postmeta><wp:meta_key>_wp_old_slug</wp:meta_key><wp:meta_value>old-{pid}</wp:meta_value></wp:postmeta></item>\n"
        )
    out.write("</channel>\n</rss>\n")
    out.close()
    print(f"{a.posts} posts, {a.posts * 6} upload files, {written / 1e9:.2f} GB in {a.dir}")


if __name__ == "__main__":
    main()
