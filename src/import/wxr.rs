//! WordPress eXtended RSS (WXR 1.1/1.2), read as a stream: the channel's
//! header, its authors and categories, then one [`Item`] at a time. An
//! export of 100,000 items is never held whole; the importer reads it twice
//! (an index, then the bodies).
//!
//! Namespaces are matched by URI, so `http://` and `https://wordpress.org/export/1.x/`
//! exports, values with or without CDATA, and any prefix spelling all read alike.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context as _, bail};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// The namespaces of WXR, by what their URIs say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    None,
    Wp,
    Excerpt,
    Content,
    Dc,
    Other,
}

fn ns_of(r: &ResolveResult) -> Ns {
    let ResolveResult::Bound(ns) = r else { return Ns::None };
    let uri: &str = ns.as_ref();
    if uri.contains("wordpress.org/export/") {
        if uri.trim_end_matches('/').ends_with("/excerpt") { Ns::Excerpt } else { Ns::Wp }
    } else if uri.contains("purl.org/rss/1.0/modules/content") {
        Ns::Content
    } else if uri.contains("purl.org/dc/elements/1.1") {
        Ns::Dc
    } else {
        Ns::Other
    }
}

/// A `<wp:author>` of the channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Author {
    pub login: String,
    pub display_name: String,
    pub email: String,
}

/// A `<wp:category>` or `<wp:tag>` of the channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Term {
    pub id: u64,
    pub nicename: String,
    pub name: String,
}

/// Everything of the channel but its items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Channel {
    pub title: String,
    pub link: String,
    pub description: String,
    pub language: String,
    pub wxr_version: String,
    pub base_site_url: String,
    pub base_blog_url: String,
    pub authors: Vec<Author>,
    pub categories: Vec<Term>,
}

/// A `<category domain=… nicename=…>` of an item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemTerm {
    /// `category`, `post_tag`, or a custom taxonomy.
    pub domain: String,
    pub nicename: String,
    pub name: String,
}

/// One `<item>`: a post, page, attachment, menu item, revision, …
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    /// Byte offset of its `<item>` in the export, for [`line_of`].
    pub offset: u64,
    pub title: String,
    pub link: String,
    pub guid: String,
    pub creator: String,
    pub content: String,
    pub excerpt: String,
    pub id: u64,
    pub post_date: String,
    pub post_date_gmt: String,
    pub post_modified: String,
    pub post_modified_gmt: String,
    pub post_name: String,
    pub status: String,
    /// Set on a password-protected post or page.
    pub post_password: String,
    pub post_parent: u64,
    pub post_type: String,
    pub attachment_url: String,
    pub terms: Vec<ItemTerm>,
    /// `<wp:postmeta>` key and value pairs, in order.
    pub meta: Vec<(String, String)>,
}

impl Item {
    pub fn meta(&self, key: &str) -> impl Iterator<Item = &str> {
        self.meta.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What the reader hands on, in document order: the channel (once, before
/// the first item, and again complete at the end), then each item.
pub enum Entry {
    Channel(Box<Channel>),
    Item(Box<Item>),
}

/// Reads `file` and calls `each` for the channel and every item. A file that
/// is not a WordPress export, malformed or truncated XML is an error naming
/// the file, the line and what to do; `each` may stop the read with an error.
pub fn read(file: &Path, mut each: impl FnMut(Entry) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut reader = NsReader::from_reader(std::io::BufReader::with_capacity(1 << 16, f));
    reader.config_mut().check_end_names = true;
    read_from(&mut reader, &mut each).map_err(|e| {
        let at = reader.error_position().max(reader.buffer_position());
        let line = line_at(file, at);
        match e {
            ReadError::Xml(e) => anyhow::anyhow!(
                "{}:{line}: not well-formed XML: {e}; export the site again (WordPress: Tools → Export) or repair the file",
                file.display()
            ),
            ReadError::Wxr(why) => anyhow::anyhow!("{}:{line}: {why}", file.display()),
            ReadError::Stop(e) => e,
        }
    })
}

enum ReadError {
    Xml(quick_xml::Error),
    Wxr(String),
    Stop(anyhow::Error),
}

impl From<quick_xml::Error> for ReadError {
    fn from(e: quick_xml::Error) -> Self {
        ReadError::Xml(e)
    }
}

/// The line of an item (its [`Item::offset`]), for an error naming it.
pub fn line_of(file: &Path, offset: u64) -> usize {
    line_at(file, offset)
}

/// The 1-based line of byte `offset`, counted again only when reporting an error.
fn line_at(file: &Path, offset: u64) -> usize {
    let Ok(bytes) = std::fs::read(file) else { return 1 };
    let end = (offset as usize).min(bytes.len());
    1 + bytes[..end].iter().filter(|&&b| b == b'\n').count()
}

fn read_from<R: BufRead>(reader: &mut NsReader<R>, each: &mut dyn FnMut(Entry) -> anyhow::Result<()>) -> Result<(), ReadError> {
    let mut buf = Vec::new();
    // The element path below <rss>, as (namespace, local name).
    let mut path: Vec<(Ns, String)> = Vec::new();
    let mut text = String::new();
    let mut channel = Channel::default();
    let mut channel_sent = false;
    let mut item: Option<Item> = None;
    let mut author = Author::default();
    let mut term = Term::default();
    let mut meta = (String::new(), String::new());
    let mut item_term = ItemTerm::default();
    let mut saw_rss = false;
    let mut saw_wp = false;
    loop {
        let (ns, event) = reader.read_resolved_event_into(&mut buf)?;
        let ns = ns_of(&ns);
        match event {
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    if local != "rss" {
                        return Err(ReadError::Wxr(format!(
                            "not a WordPress export: the document is <{local}>, not <rss>; export the site with WordPress's Tools → Export"
                        )));
                    }
                    saw_rss = true;
                }
                if ns == Ns::Wp || ns == Ns::Excerpt {
                    saw_wp = true;
                }
                if ns == Ns::None && local == "item" && path.len() == 2 {
                    if !saw_wp {
                        return Err(ReadError::Wxr(
                            "not a WordPress export: an RSS feed without the wp: namespace (a feed is not an export); use Tools → Export"
                                .into(),
                        ));
                    }
                    if !channel_sent {
                        each(Entry::Channel(Box::new(channel.clone()))).map_err(ReadError::Stop)?;
                        channel_sent = true;
                    }
                    item = Some(Item { offset: reader.buffer_position(), ..Item::default() });
                }
                if ns == Ns::None && local == "category" && item.is_some() {
                    item_term = ItemTerm::default();
                    for a in e.attributes().flatten() {
                        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(|v| v.into_owned()).unwrap_or_default();
                        match a.key.local_name().as_ref() {
                            "domain" => item_term.domain = value,
                            "nicename" => item_term.nicename = value,
                            _ => {}
                        }
                    }
                }
                path.push((ns, local));
                text.clear();
            }
            Event::Empty(e) => {
                // `<wp:category_parent/>` and the like: an empty value.
                let local = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    return Err(ReadError::Wxr(format!("not a WordPress export: the document is an empty <{local}/>")));
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => text.push_str(match r.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => {
                        return Err(ReadError::Wxr(format!(
                            "unknown entity `&{};` (XML knows only &amp; &lt; &gt; &quot; &apos;); repair the file",
                            other
                        )));
                    }
                }),
            },
            Event::End(_) => {
                let Some((ens, local)) = path.pop() else { break };
                let value = std::mem::take(&mut text);
                let parent = path.last().map(|(n, l)| (*n, l.as_str()));
                match (&mut item, parent) {
                    (Some(it), Some((Ns::None, "item"))) => set_item_field(it, ens, &local, value, &mut item_term),
                    (Some(_), Some((Ns::Wp, "postmeta"))) => match local.as_str() {
                        "meta_key" => meta.0 = value,
                        "meta_value" => meta.1 = value,
                        _ => {}
                    },
                    (None, Some((Ns::None, "channel"))) => set_channel_field(&mut channel, ens, &local, value),
                    (None, Some((Ns::Wp, "author"))) => match local.as_str() {
                        "author_login" => author.login = value,
                        "author_display_name" => author.display_name = value,
                        "author_email" => author.email = value,
                        _ => {}
                    },
                    (None, Some((Ns::Wp, "category" | "tag"))) => match local.as_str() {
                        "term_id" => term.id = value.trim().parse().unwrap_or(0),
                        "category_nicename" | "tag_slug" => term.nicename = value,
                        "cat_name" | "tag_name" => term.name = value,
                        _ => {}
                    },
                    _ => {}
                }
                match (ens, local.as_str()) {
                    (Ns::None, "item") if path.len() == 2 => {
                        let it = item.take().expect("an item was started");
                        each(Entry::Item(Box::new(it))).map_err(ReadError::Stop)?;
                    }
                    (Ns::Wp, "postmeta") => {
                        if let Some(it) = &mut item {
                            it.meta.push(std::mem::take(&mut meta));
                        }
                    }
                    (Ns::Wp, "author") if item.is_none() => channel.authors.push(std::mem::take(&mut author)),
                    (Ns::Wp, "category") if item.is_none() => channel.categories.push(std::mem::take(&mut term)),
                    (Ns::Wp, "tag") if item.is_none() => term = Term::default(),
                    (Ns::None, "rss") => {
                        if !saw_wp {
                            return Err(ReadError::Wxr(
                                "not a WordPress export: no wp: elements (WXR); export the site with WordPress's Tools → Export".into(),
                            ));
                        }
                        each(Entry::Channel(Box::new(channel))).map_err(ReadError::Stop)?;
                        return Ok(());
                    }
                    _ => {}
                }
            }
            Event::Eof => {
                return Err(ReadError::Wxr(if saw_rss {
                    format!(
                        "the file ends inside <{}>: it is truncated; export the site again (WordPress: Tools → Export)",
                        path.last().map(|(_, l)| l.as_str()).unwrap_or("rss")
                    )
                } else {
                    "not a WordPress export: no <rss> element; export the site with WordPress's Tools → Export".into()
                }));
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

fn set_channel_field(c: &mut Channel, ns: Ns, local: &str, value: String) {
    match (ns, local) {
        (Ns::None, "title") => c.title = value,
        (Ns::None, "link") => c.link = value.trim().to_string(),
        (Ns::None, "description") => c.description = value,
        (Ns::None, "language") => c.language = value.trim().to_string(),
        (Ns::Wp, "wxr_version") => c.wxr_version = value.trim().to_string(),
        (Ns::Wp, "base_site_url") => c.base_site_url = value.trim().to_string(),
        (Ns::Wp, "base_blog_url") => c.base_blog_url = value.trim().to_string(),
        _ => {}
    }
}

fn set_item_field(it: &mut Item, ns: Ns, local: &str, value: String, term: &mut ItemTerm) {
    let num = |v: &str| v.trim().parse().unwrap_or(0);
    match (ns, local) {
        (Ns::None, "title") => it.title = value,
        (Ns::None, "link") => it.link = value.trim().to_string(),
        (Ns::None, "guid") => it.guid = value.trim().to_string(),
        (Ns::None, "category") => {
            term.name = value;
            it.terms.push(std::mem::take(term));
        }
        (Ns::Dc, "creator") => it.creator = value.trim().to_string(),
        (Ns::Content, "encoded") => it.content = value,
        (Ns::Excerpt, "encoded") => it.excerpt = value,
        (Ns::Wp, "post_id") => it.id = num(&value),
        (Ns::Wp, "post_date") => it.post_date = value.trim().to_string(),
        (Ns::Wp, "post_date_gmt") => it.post_date_gmt = value.trim().to_string(),
        (Ns::Wp, "post_modified") => it.post_modified = value.trim().to_string(),
        (Ns::Wp, "post_modified_gmt") => it.post_modified_gmt = value.trim().to_string(),
        (Ns::Wp, "post_name") => it.post_name = value.trim().to_string(),
        (Ns::Wp, "status") => it.status = value.trim().to_string(),
        (Ns::Wp, "post_password") => it.post_password = value.trim().to_string(),
        (Ns::Wp, "post_parent") => it.post_parent = num(&value),
        (Ns::Wp, "post_type") => it.post_type = value.trim().to_string(),
        (Ns::Wp, "attachment_url") => it.attachment_url = value.trim().to_string(),
        _ => {}
    }
}

/// Fails unless `file` starts like a WordPress export; cheap, for messages
/// before any work.
pub fn sniff(file: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if meta.is_dir() {
        bail!("{} is a folder; give the export file (WordPress: Tools → Export writes an .xml file)", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(xml: &str) -> anyhow::Result<(Channel, Vec<Item>)> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("export.xml");
        std::fs::write(&file, xml).unwrap();
        let mut channel = Channel::default();
        let mut items = Vec::new();
        read(&file, |e| {
            match e {
                Entry::Channel(c) => channel = *c,
                Entry::Item(i) => items.push(*i),
            }
            Ok(())
        })?;
        Ok((channel, items))
    }

    const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:excerpt="https://wordpress.org/export/1.2/excerpt/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="https://wordpress.org/export/1.2/">
<channel><title>T &amp; co</title><link>https://old.example.com</link><language>ko-KR</language>
<wp:wxr_version>1.2</wp:wxr_version><wp:base_blog_url>https://old.example.com</wp:base_blog_url>
<wp:author><wp:author_login><![CDATA[kim]]></wp:author_login><wp:author_display_name><![CDATA[김서연]]></wp:author_display_name></wp:author>
"#;

    #[test]
    fn values_with_and_without_cdata_read_alike() {
        let xml = format!(
            "{HEAD}<item><title>A &lt;b&gt; &#xAC00;</title><link>https://old.example.com/2023/12/a/</link><dc:creator>kim</dc:creator>\
<content:encoded><![CDATA[<p>body</p>]]></content:encoded><excerpt:encoded></excerpt:encoded><wp:post_id>7</wp:post_id>\
<wp:post_name><![CDATA[%ea%b0%80]]></wp:post_name><wp:status>publish</wp:status><wp:post_type><![CDATA[post]]></wp:post_type>\
<category domain=\"category\" nicename=\"economy\"><![CDATA[경제]]></category>\
<wp:postmeta><wp:meta_key>_wp_old_slug</wp:meta_key><wp:meta_value><![CDATA[old]]></wp:meta_value></wp:postmeta></item></channel></rss>"
        );
        let (c, items) = read_str(&xml).unwrap();
        assert_eq!(c.title, "T & co");
        assert_eq!(c.language, "ko-KR");
        assert_eq!(c.authors, vec![Author { login: "kim".into(), display_name: "김서연".into(), email: String::new() }]);
        let it = &items[0];
        assert_eq!(it.title, "A <b> 가");
        assert_eq!(it.id, 7);
        assert_eq!(it.post_name, "%ea%b0%80");
        assert_eq!(it.content, "<p>body</p>");
        assert_eq!(it.terms, vec![ItemTerm { domain: "category".into(), nicename: "economy".into(), name: "경제".into() }]);
        assert_eq!(it.meta("_wp_old_slug").collect::<Vec<_>>(), ["old"]);
    }

    #[test]
    fn http_namespace_uris_work_too() {
        let xml = HEAD.replace("https://wordpress.org", "http://wordpress.org")
            + "<item><wp:post_id>3</wp:post_id><wp:post_type>page</wp:post_type></item></channel></rss>";
        let (_, items) = read_str(&xml).unwrap();
        assert_eq!((items[0].id, items[0].post_type.as_str()), (3, "page"));
    }

    #[test]
    fn a_truncated_export_names_the_line() {
        let xml = format!("{HEAD}<item><title>cut");
        let e = read_str(&xml).unwrap_err().to_string();
        assert!(e.contains("export.xml:") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn a_feed_or_other_xml_is_not_an_export() {
        let e = read_str("<?xml version=\"1.0\"?><html><body/></html>").unwrap_err().to_string();
        assert!(e.contains("not a WordPress export"), "{e}");
        let e = read_str("<rss><channel><item><title>x</title></item></channel></rss>").unwrap_err().to_string();
        assert!(e.contains("not a WordPress export"), "{e}");
        let e = read_str("plain text").unwrap_err().to_string();
        assert!(e.contains("not a WordPress export") || e.contains("XML"), "{e}");
    }

    #[test]
    fn malformed_xml_names_the_line() {
        let xml = format!("{HEAD}<item><title>x</wrong></item></channel></rss>");
        let e = read_str(&xml).unwrap_err().to_string();
        assert!(e.contains("export.xml:6") && e.contains("not well-formed"), "{e}");
    }
}
