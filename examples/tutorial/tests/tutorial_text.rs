//! The tutorial (docs/tutorial/) quotes this crate's code: every code block whose first line
//! names a file here (`// examples/tutorial/src/views.rs`, `<!-- examples/tutorial/… -->`,
//! `# examples/tutorial/…`) must still be in that file, line for line (indentation aside).

use std::path::Path;

/// The code blocks of a Markdown text: (the file the first line names, the lines after it).
fn quoted_blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("```") {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let Some(first) = body.first() else { continue };
        let named = first
            .trim_start_matches("// ")
            .trim_start_matches("<!-- ")
            .trim_start_matches("# ")
            .trim_end_matches(" -->");
        if let Some(file) = named.strip_prefix("examples/tutorial/") {
            let rest = body[1..].iter().map(|l| l.trim().to_owned()).collect();
            blocks.push((file.to_owned(), rest));
        }
    }
    blocks
}

#[test]
fn every_quoted_snippet_is_in_the_crate() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = crate_dir.join("../../docs/tutorial");
    let mut checked = 0;
    for entry in std::fs::read_dir(&docs).unwrap() {
        let page = entry.unwrap().path();
        let markdown = std::fs::read_to_string(&page).unwrap();
        for (file, snippet) in quoted_blocks(&markdown) {
            let source = std::fs::read_to_string(crate_dir.join(&file))
                .unwrap_or_else(|e| panic!("{}: quotes {file}: {e}", page.display()));
            let source: Vec<String> = source.lines().map(|l| l.trim().to_owned()).collect();
            let found = source
                .windows(snippet.len())
                .any(|w| w == snippet.as_slice());
            assert!(
                found,
                "{} quotes {file}, which no longer has:\n{}",
                page.display(),
                snippet.join("\n")
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} quoted snippets found in {}",
        docs.display()
    );
}
