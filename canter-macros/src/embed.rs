//! `embed_dir!("templates")`: a folder of the calling crate, embedded in the binary.
//!
//! Expands to `(source, files)`: the folder's absolute path at build time (so DEBUG can read
//! the files from disk and see edits) and every file under it as `(relative name, bytes)`,
//! the bytes by `include_bytes!` (so cargo rebuilds when one changes). A file *added* to the
//! folder is seen at the next build that recompiles the crate.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::errors::Message;

pub fn expand(input: syn::LitStr) -> syn::Result<TokenStream> {
    // Always set by cargo; without it the folder is looked for where rustc runs.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let relative = input.value();
    if relative.is_empty() || Path::new(&relative).is_absolute() || relative.contains("..") {
        return Err(Message::EmbedPath.spanned(&input));
    }
    let root = Path::new(&manifest).join(&relative);
    if !root.is_dir() {
        return Err(Message::EmbedNotAFolder.spanned(&input));
    }
    let mut files = Vec::new();
    walk(&root, &root, &mut files)
        .map_err(|e| syn::Error::new(input.span(), format!("reading {}: {e}", root.display())))?;
    files.sort();
    let source = root.display().to_string();
    let entries = files.iter().map(|(name, path)| {
        let path = syn::LitStr::new(&path.display().to_string(), Span::call_site());
        quote! { (#name, include_bytes!(#path) as &'static [u8]) }
    });
    Ok(quote! {
        (#source, &[#(#entries),*] as &'static [(&'static str, &'static [u8])])
    })
}

/// Every file under `dir`, named by its path below `root` with `/` separators; hidden files
/// and folders (`.git`, editors' swap files) are left out.
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((name.join("/"), path.clone()));
        }
    }
    Ok(())
}
