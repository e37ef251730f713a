// `embed_dir!` of a folder the crate does not have.
const FILES: (&str, &[(&str, &[u8])]) = canter_macros::embed_dir!("no-such-folder");

fn main() {
    let _ = FILES;
}
