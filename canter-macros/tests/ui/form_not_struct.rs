// `#[derive(Form)]` is for structs.
#[derive(canter_macros::Form)]
enum NoteForm {
    Title(String),
}

fn main() {}
