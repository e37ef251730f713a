// `embed_dir!` takes a folder of the crate, relative, without `..`.
const FILES: (&str, &[(&str, &[u8])]) = canter_macros::embed_dir!("../elsewhere");

fn main() {
    let _ = FILES;
}
