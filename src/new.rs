//! `gen new site` and `gen new article`: scaffolding that never overwrites.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{DateTime, FixedOffset};

use crate::config::{CONFIG_FILE, Config, is_valid_name};
use crate::model::slugify;

/// Appends a `[[sites]]` entry to `sites.toml` (keeping its comments) and
/// creates `content/<name>/` with a first article.
pub fn site(root: &Path, name: &str) -> anyhow::Result<PathBuf> {
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
    let entry = format!(
        "{}[[sites]]\nname = \"{name}\"\ntitle = \"{name}\"\nbase_url = \"https://{name}.example.com/\"\n",
        if existing.is_empty() || existing.ends_with("\n\n") {
            ""
        } else if existing.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        }
    );
    let welcome = dir.join("news").join("welcome").join("index.md");
    std::fs::create_dir_all(welcome.parent().expect("has parent")).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        &welcome,
        format!("---\ntitle: Welcome to {name}\ndate: 2024-01-01\n---\n\nThe first article of {name}. Edit or delete it.\n"),
    )?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config_path)
        .and_then(|mut f| f.write_all(entry.as_bytes()))
        .with_context(|| format!("appending to {}", config_path.display()))?;
    Ok(dir)
}

/// Creates `content/SITE/SECTION/SLUG/index.md` as a draft dated `now`.
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
    if config.site(site).is_none() {
        bail!(
            "no site named `{site}` in {CONFIG_FILE} (configured: {})",
            config.sites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let path = root.join("content").join(site).join(section).join(slug).join("index.md");
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    std::fs::create_dir_all(path.parent().expect("has parent"))?;
    let title = slug.replace('-', " ");
    std::fs::write(
        &path,
        format!(
            "---\ntitle: \"{title}\"\ndate: {}\ndraft: true\ntags: []\n---\n\nWrite here. Remove `draft: true` to publish.\n",
            now.format("%Y-%m-%dT%H:%M:%S%:z")
        ),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
