//! Tells the crate whether it is built inside canter's repository. `src/guides.rs` doc-tests the
//! guides (`README.md`, `docs/*.md`) and the macros' docs by including them from the
//! repository, which a published package does not ship: there the module is left out
//! (`cfg(canter_guides)` unset) and the package's own doc tests still build.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(canter_guides)");
    println!("cargo::rerun-if-changed=build.rs");
    let repository = [
        "../README.md",
        "../docs/http.md",
        "../canter-macros/src/docs/model.md",
    ];
    if repository.iter().all(|file| Path::new(file).is_file()) {
        println!("cargo::rustc-cfg=canter_guides");
    }
}
