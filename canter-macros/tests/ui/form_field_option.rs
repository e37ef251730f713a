// A form field's `#[form(...)]` names its label, widget and checks.
#[derive(canter_macros::Form)]
struct NoteForm {
    #[form(maxlength = 100)]
    title: String,
}

fn main() {}
