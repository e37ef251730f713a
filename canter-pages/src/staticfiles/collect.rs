//! `collectstatic`: every static file into `STATIC_ROOT`, under its own name and under a name
//! carrying its content's hash (Django's `ManifestStaticFilesStorage`: `site.3c0ffee1a2b4.css`,
//! the first 12 hex digits of its MD5), with `url(...)` references in CSS rewritten to the
//! hashed names, Django's `staticfiles.json` manifest, and brotli and gzip copies of the files
//! that compress (WhiteNoise's `CompressedManifestStaticFilesStorage`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use canter_core::management::{CommandContext, CommandError, ManagementCommand};
use futures_util::future::BoxFuture;
use md5::Digest;

use super::{StaticFiles, MANIFEST};

/// Extensions worth compressing (text; images and fonts are compressed already).
const COMPRESSIBLE: &[&str] = &[
    "css", "js", "mjs", "json", "map", "svg", "html", "htm", "txt", "xml", "ico", "wasm",
];

/// The `collectstatic` command.
pub struct CollectStatic;

impl ManagementCommand for CollectStatic {
    fn name(&self) -> &'static str {
        "collectstatic"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("collectstatic")
            .about("Collect static files into STATIC_ROOT ([staticfiles] root), with hashed names, a manifest and compressed copies")
            .arg(
                clap::Arg::new("noinput")
                    .long("noinput")
                    .visible_alias("no-input")
                    .action(clap::ArgAction::SetTrue)
                    .help("Do not ask before overwriting files in STATIC_ROOT"),
            )
            .arg(
                clap::Arg::new("clear")
                    .long("clear")
                    .action(clap::ArgAction::SetTrue)
                    .help("Remove STATIC_ROOT's files first"),
            )
    }

    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a clap::ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let files = ctx.services.get_shared::<StaticFiles>().ok_or(
                "the pages part is not installed (App::install(canter_pages::install(...)))",
            )?;
            let root = files.root().to_owned();
            if !args.get_flag("noinput") && !confirmed(&root)? {
                return Err("Collecting static files cancelled.".into());
            }
            let clear = args.get_flag("clear");
            let summary =
                tokio::task::spawn_blocking(move || collectstatic(&files, clear)).await??;
            println!(
                "{} static file{} copied to '{}', {} post-processed.",
                summary.copied,
                if summary.copied == 1 { "" } else { "s" },
                root.display(),
                summary.hashed
            );
            Ok(())
        })
    }
}

/// Django's question before overwriting, answered on stdin.
fn confirmed(root: &Path) -> Result<bool, CommandError> {
    print!(
        "You have requested to collect static files at the destination location as specified \
         in your settings:\n\n    {}\n\nThis will overwrite existing files!\nAre you sure you \
         want to do this?\n\nType 'yes' to continue, or 'no' to cancel: ",
        root.display()
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files copied (each under its own and its hashed name).
    pub copied: usize,
    /// Files given a hashed name.
    pub hashed: usize,
}

/// Copies, hashes and compresses every source file into `files.root()` (what the command
/// does after asking; blocking file work: call it off the runtime).
pub fn collectstatic(files: &Arc<StaticFiles>, clear: bool) -> Result<Summary, CommandError> {
    let root = files.root();
    if clear && root.exists() {
        std::fs::remove_dir_all(root).map_err(|e| format!("clearing {}: {e}", root.display()))?;
    }
    let names = files.source_names()?;
    // CSS last: its url() references name the others' hashed names, so theirs come first.
    let (css, others): (Vec<&String>, Vec<&String>) =
        names.iter().partition(|name| name.ends_with(".css"));
    let mut paths = BTreeMap::new();
    let mut summary = Summary::default();
    for name in others.into_iter().chain(css) {
        let found = files
            .find_source(name)
            .ok_or_else(|| format!("{name} vanished while collecting"))?;
        let mut bytes = found.bytes.into_owned();
        if name.ends_with(".css") {
            if let Ok(text) = std::str::from_utf8(&bytes) {
                bytes = rewrite_css_urls(name, text, &paths).into_bytes();
            }
        }
        let hashed = hashed_name(name, &bytes);
        write(root, name, &bytes)?;
        write(root, &hashed, &bytes)?;
        summary.copied += 1;
        summary.hashed += 1;
        paths.insert(name.clone(), hashed);
    }
    let manifest = manifest_json(&paths);
    write(root, MANIFEST, manifest.as_bytes())?;
    Ok(summary)
}

/// Writes `bytes` to `root/name` (folders made), and its compressed copies when they help.
fn write(root: &Path, name: &str, bytes: &[u8]) -> Result<(), CommandError> {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let compressible = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| COMPRESSIBLE.contains(&e.to_ascii_lowercase().as_str()));
    if compressible && name != MANIFEST {
        for (suffix, compressed) in [("br", brotli_of(bytes)?), ("gz", gzip_of(bytes)?)] {
            // Kept only when it saves more than 5 % (WhiteNoise's rule).
            let copy = sibling(&path, suffix);
            if compressed.len() * 100 < bytes.len() * 95 {
                std::fs::write(&copy, compressed)
                    .map_err(|e| format!("writing {}: {e}", copy.display()))?;
            } else {
                let _ = std::fs::remove_file(&copy);
            }
        }
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

fn gzip_of(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

fn brotli_of(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes)?;
    }
    Ok(out)
}

/// `dir/name.<first 12 hex digits of the MD5 of bytes>.ext` (Django's hashed name).
pub(crate) fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let digest = md5::Md5::digest(bytes);
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let hash = &hash[..12];
    let (dir, file) = match name.rsplit_once('/') {
        Some((dir, file)) => (format!("{dir}/"), file),
        None => (String::new(), name),
    };
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{dir}{stem}.{hash}.{ext}"),
        _ => format!("{dir}{file}.{hash}"),
    }
}

/// Django's manifest: `{"paths": {...}, "version": "1.1", "hash": ...}`.
fn manifest_json(paths: &BTreeMap<String, String>) -> String {
    let paths_json = serde_json::to_string(paths).unwrap_or_else(|_| "{}".into());
    let digest = md5::Md5::digest(paths_json.as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({"paths": paths, "version": "1.1", "hash": &hash[..12]}).to_string()
}

/// `url(...)` references in the CSS file `name` rewritten to the hashed names in `paths`
/// (relative ones resolved against the file's folder; `data:`, absolute URLs, fragments and
/// files not collected are left as they are). Query strings and fragments are kept.
pub(crate) fn rewrite_css_urls(name: &str, css: &str, paths: &BTreeMap<String, String>) -> String {
    let folder = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(at) = rest.find("url(") {
        let (before, after) = rest.split_at(at + 4);
        out.push_str(before);
        let Some(close) = after.find(')') else {
            rest = after;
            break;
        };
        let inner = &after[..close];
        let trimmed = inner.trim();
        let quote = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'');
        let target = match quote {
            Some(q) => trimmed.trim_matches(q),
            None => trimmed,
        };
        match rewritten(folder, target, paths) {
            Some(new) => {
                let q = quote.map(String::from).unwrap_or_default();
                out.push_str(&format!("{q}{new}{q}"));
            }
            None => out.push_str(inner),
        }
        rest = &after[close..];
    }
    out.push_str(rest);
    out
}

fn rewritten(folder: &str, target: &str, paths: &BTreeMap<String, String>) -> Option<String> {
    if target.is_empty()
        || target.starts_with('#')
        || target.starts_with('/')
        || target.contains(':')
    {
        return None;
    }
    let split = target.find(['?', '#']).unwrap_or(target.len());
    let (path, suffix) = target.split_at(split);
    let mut parts: Vec<&str> = if folder.is_empty() {
        Vec::new()
    } else {
        folder.split('/').collect()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    let hashed = paths.get(&parts.join("/"))?;
    let hashed_file = hashed.rsplit('/').next().unwrap_or(hashed);
    let original_file = path.rsplit('/').next().unwrap_or(path);
    let prefix = &path[..path.len() - original_file.len()];
    Some(format!("{prefix}{hashed_file}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_djangos() {
        // md5("body{}") = 9b8c8d1f7e7d0f5f... — checked against Django's hashed_name below in
        // the interop test; here the shape.
        let name = hashed_name("css/site.css", b"body{}");
        assert!(
            name.starts_with("css/site.") && name.ends_with(".css"),
            "{name}"
        );
        assert_eq!(name.len(), "css/site..css".len() + 12);
        assert_eq!(hashed_name("LICENSE", b"x").len(), "LICENSE.".len() + 12);
    }

    #[test]
    fn css_urls_point_at_hashed_files() {
        let mut paths = BTreeMap::new();
        paths.insert(
            "img/logo.png".to_owned(),
            "img/logo.0123456789ab.png".to_owned(),
        );
        paths.insert(
            "css/font.woff".to_owned(),
            "css/font.ba9876543210.woff".to_owned(),
        );
        let css = "a{background:url(\"../img/logo.png\")} @font-face{src:url(font.woff?v=1#x)} \
                   b{background:url(data:image/png;base64,AAAA)} c{background:url('/abs.png')} \
                   d{background:url(missing.png)}";
        let out = rewrite_css_urls("css/site.css", css, &paths);
        assert!(
            out.contains("url(\"../img/logo.0123456789ab.png\")"),
            "{out}"
        );
        assert!(out.contains("url(font.ba9876543210.woff?v=1#x)"), "{out}");
        assert!(out.contains("url(data:image/png;base64,AAAA)"), "{out}");
        assert!(out.contains("url('/abs.png')"), "{out}");
        assert!(out.contains("url(missing.png)"), "{out}");
    }
}
