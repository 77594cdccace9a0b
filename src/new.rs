//! `gen init`, `gen new site` and `gen new article`: scaffolding that never
//! overwrites.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset};

use crate::config::{CONFIG_FILE, Config, is_valid_name};
use crate::model::slugify;

/// `gen init [DIR]`: a repository that builds — `sites.toml` with one site,
/// a welcome article, `content/authors.yaml` and a `.gitignore`. The theme
/// is the built-in one; with `theme`, it is written to `themes/default/`
/// for editing. Refuses a folder that already has a `sites.toml`.
pub fn init(dir: &Path, theme: bool) -> anyhow::Result<Vec<PathBuf>> {
    let config = dir.join(CONFIG_FILE);
    if config.exists() {
        bail!("{} already exists: this is a gen repository (use `gen new site NAME` to add a site)", config.display());
    }
    let themes = dir.join("themes").join(crate::theme::BUILTIN_NAME);
    if theme && themes.exists() {
        bail!("{} already exists", themes.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut made = Vec::new();
    let mut write = |rel: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(rel);
        if path.exists() {
            bail!("{} already exists; gen init does not overwrite files", path.display());
        }
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        made.push(path);
        Ok(())
    };
    write(
        CONFIG_FILE,
        "# gen: one repository, many sites. Every key is described in gen's README.\noutput = \"public\"\n\n[[sites]]\nname = \"news\"\ntitle = \"My News\"\nbase_url = \"https://news.example.com/\"\nlanguage = \"en\"\ndescription = \"News from my newsroom\"\n# timezone = \"Asia/Seoul\"\n",
    )?;
    write("content/authors.yaml", "editor:\n  name: The Editor\n  position: Editor\n")?;
    write(
        "content/news/world/welcome/index.md",
        "---\ntitle: Welcome\ndate: 2024-01-01\nauthor: editor\ntags: [welcome]\n---\n\nThe first article of this site. Edit it, or add more with\n`gen new article news/world/my-story`, then preview with `gen serve --watch`.\n",
    )?;
    write(".gitignore", "/public/\n/.gen/\n")?;
    if theme {
        crate::theme::BUILTIN.extract(&themes).with_context(|| format!("writing {}", themes.display()))?;
        made.push(themes);
    }
    Ok(made)
}

/// What `gen new site` is told about the site beyond its name.
#[derive(Debug, Default, Clone)]
pub struct SiteOptions {
    pub title: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub base_url: Option<String>,
}

/// Appends a `[[sites]]` entry to `sites.toml` (keeping its comments) and
/// creates `content/<name>/` with a welcome article in the site's language,
/// dated `now` in its time zone. The entry is checked with the rest of
/// `sites.toml` before anything is written.
pub fn site(root: &Path, name: &str, o: &SiteOptions, now: DateTime<FixedOffset>) -> anyhow::Result<PathBuf> {
    if !is_valid_name(name) {
        bail!("`{name}` is not a valid site name: use lowercase letters, digits, `-` and `_`");
    }
    let config_path = root.join(CONFIG_FILE);
    let existing = std::fs::read_to_string(&config_path).unwrap_or_default();
    if !existing.is_empty() {
        let config = Config::parse(root, &existing)?;
        if config.site(name).is_some() {
            bail!("{CONFIG_FILE} already has a site named `{name}`");
        }
    }
    let dir = root.join("content").join(name);
    if dir.exists() {
        bail!("{} already exists; choose another name or add the site to {CONFIG_FILE} by hand", dir.display());
    }
    let quote = |v: &str| toml::Value::String(v.to_string()).to_string();
    let title = o.title.clone().unwrap_or_else(|| name.to_string());
    let base_url = o.base_url.clone().unwrap_or_else(|| format!("https://{name}.example.com/"));
    let mut entry = format!(
        "{}[[sites]]\nname = \"{name}\"\ntitle = {}\nbase_url = {}\n",
        if existing.is_empty() || existing.ends_with("\n\n") {
            ""
        } else if existing.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        },
        quote(&title),
        quote(&base_url)
    );
    for (key, value) in [("language", &o.language), ("timezone", &o.timezone)] {
        if let Some(v) = value {
            entry += &format!("{key} = {}\n", quote(v));
        }
    }
    // The new entry must load with the others (a bad URL, zone or title).
    let config = Config::parse(root, &format!("{existing}{entry}"))?;
    let site = config.site(name).expect("the entry just added");
    let date = now.with_timezone(&site.timezone.unwrap_or(chrono_tz::UTC)).format("%Y-%m-%dT%H:%M:%S%:z");
    let korean = site.language.starts_with("ko");
    let welcome = dir.join("news").join("welcome").join("index.md");
    let (welcome_title, body) = if korean {
        (format!("{title}에 오신 것을 환영합니다"), format!("{title}의 첫 기사입니다. 고치거나 지우세요."))
    } else {
        (format!("Welcome to {title}"), format!("The first article of {title}. Edit or delete it."))
    };
    std::fs::create_dir_all(welcome.parent().expect("has parent")).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&welcome, format!("---\ntitle: {}\ndate: {date}\n---\n\n{body}\n", yaml_string(&welcome_title)))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config_path)
        .and_then(|mut f| f.write_all(entry.as_bytes()))
        .with_context(|| format!("appending to {}", config_path.display()))?;
    Ok(dir)
}

/// A YAML string that reads back as `s` whatever it holds (`:`, `#`, quotes).
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// Creates `content/SITE/SECTION/SLUG/index.md` as a draft dated `now` in
/// the site's time zone, with placeholder text in the site's language.
pub fn article(root: &Path, spec: &str, now: DateTime<FixedOffset>) -> anyhow::Result<PathBuf> {
    let parts: Vec<&str> = spec.split('/').collect();
    let [site, section, slug] = parts[..] else {
        bail!("expected SITE/SECTION/SLUG, e.g. news/politics/budget-vote, got `{spec}`");
    };
    for (what, part) in [("section", section), ("slug", slug)] {
        if slugify(part) != part {
            bail!("{what} `{part}` should be a URL slug such as `{}`", slugify(part));
        }
    }
    let config = Config::load(root)?;
    let Some(site_config) = config.site(site) else {
        bail!(
            "no site named `{site}` in {CONFIG_FILE} (configured: {})",
            config.sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    };
    let path = root.join("content").join(site).join(section).join(slug).join("index.md");
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    std::fs::create_dir_all(path.parent().expect("has parent"))?;
    let title = slug.replace('-', " ");
    let date = now.with_timezone(&site_config.timezone.unwrap_or(chrono_tz::UTC)).format("%Y-%m-%dT%H:%M:%S%:z");
    let placeholder = if site_config.language.starts_with("ko") {
        "여기에 기사를 쓰세요. 발행하려면 `draft: true` 줄을 지우세요."
    } else {
        "Write here. Remove `draft: true` to publish."
    };
    std::fs::write(&path, format!("---\ntitle: \"{title}\"\ndate: {date}\ndraft: true\ntags: []\n---\n\n{placeholder}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `gen theme eject`: writes the built-in theme to `themes/default/` for
/// editing, file by file, never replacing one that is there. Returns the
/// files written and those left as they were.
pub fn eject_theme(root: &Path) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let dir = root.join("themes").join(crate::theme::BUILTIN_NAME);
    let (mut written, mut kept) = (Vec::new(), Vec::new());
    let mut stack = vec![&crate::theme::BUILTIN];
    while let Some(d) = stack.pop() {
        for e in d.entries() {
            match e {
                include_dir::DirEntry::Dir(sub) => stack.push(sub),
                include_dir::DirEntry::File(f) => {
                    let path = dir.join(f.path());
                    if path.exists() {
                        kept.push(path);
                        continue;
                    }
                    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
                    std::fs::write(&path, f.contents()).with_context(|| format!("writing {}", path.display()))?;
                    written.push(path);
                }
            }
        }
    }
    written.sort();
    kept.sort();
    Ok((written, kept))
}
