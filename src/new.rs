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
