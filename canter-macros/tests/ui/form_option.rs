// A form's own `#[form(...)]` takes `crate`, `validate` and `model`.
#[derive(canter_macros::Form)]
#[form(table = "notes")]
struct NoteForm {
    title: String,
}

fn main() {}
