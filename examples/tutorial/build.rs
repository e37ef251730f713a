//! Rebuild when a file is added to a folder `embed_dir!` compiles in (cargo sees edits to the
//! files it includes, but not new ones: a new migration must reach the binary too).

fn main() {
    for folder in ["migrations", "templates", "static"] {
        println!("cargo:rerun-if-changed={folder}");
    }
}
