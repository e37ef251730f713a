// A form's own `#[form(...)]` takes `crate` and `validate`.
#[derive(canter_macros::Form)]
#[form(table = "notes")]
struct NoteForm {
    title: String,
}

fn main() {}
